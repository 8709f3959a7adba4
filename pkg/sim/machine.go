// Package sim is a simulated rack for tests and the demo: switched PDUs
// that answer SNMP on loopback with the MIBs of the model table (outlet
// control and status, per-outlet metering), and machines that come up when
// their outlets have power and a magic packet for their MAC arrives, draw
// watts while up, and can shut themselves down, just as the seed workflow's
// machines do after introspection or after writing their image.
//
// It is not a stable API: it lives under pkg/ (not pkg/internal/) only
// because the CLI's demo and sim commands and the tests under test/ use
// it, and it changes with them.
package sim

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// MachineState is what a simulated machine is doing.
type MachineState int

// Machine states.
const (
	// Off: no power at any outlet feeding it.
	Off MachineState = iota
	// Standby: powered, not running; the NIC listens for magic packets.
	Standby
	// Running: booted, drawing full power.
	Running
)

// String names the state for logs.
func (s MachineState) String() string {
	switch s {
	case Standby:
		return "standby"
	case Running:
		return "running"
	default:
		return "off"
	}
}

// MachineConfig describes one simulated machine.
type MachineConfig struct {
	Name string
	MAC  net.HardwareAddr
	// PDU and Outlets feed the machine; with no PDU it always has standby power.
	PDU     string
	Outlets []int
	// StandbyWatts and RunningWatts are the draw (defaults 4 W and 120 W).
	StandbyWatts, RunningWatts float64
	// SelfShutdownAfter makes the machine shut itself down this long after
	// every boot (0: it runs until powered off).
	SelfShutdownAfter time.Duration
	// PowerOnAfterACLoss boots the machine as soon as power returns, like the
	// BIOS option of that name; otherwise it waits for a magic packet.
	PowerOnAfterACLoss bool
	// VM, when set, runs the machine as a QEMU virtual machine (vm.go).
	VM *VMConfig
	// Console, if set, is the TCP address of the machine's serial port
	// (raw, like QEMU's -serial tcp:...,server). For a VM it is the VM's
	// serial port unless VM.Serial names another.
	Console string
}

// Machine is one simulated machine.
type Machine struct {
	cfg  MachineConfig
	rack *Rack
	log  *slog.Logger

	// vm and serial are the machine's VM and its serial port; nil when it
	// is not a VM (vmmachine.go).
	vm     *vmProcess
	serial *serialPort
	// console is a simulated machine's serial port; nil without one, and
	// for a VM (its serial port is the VM's own).
	console *simConsole

	mu       sync.Mutex
	state    MachineState
	boots    int
	wakes    int // magic packets received
	shutdown *time.Timer
}

// ConsoleAddr is the bound address of the machine's serial port, or "".
func (m *Machine) ConsoleAddr() string {
	if m.console == nil {
		return ""
	}
	return m.console.ln.Addr().String()
}

// Name returns the machine's name.
func (m *Machine) Name() string { return m.cfg.Name }

// State returns what the machine is doing.
func (m *Machine) State() MachineState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Boots counts how often the machine booted.
func (m *Machine) Boots() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.boots
}

// WakePackets counts the magic packets addressed to the machine.
func (m *Machine) WakePackets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wakes
}

// Shutdown makes a running machine halt by itself, as an OS does after
// "shutdown -h": it falls back to standby while its outlets stay on.
func (m *Machine) Shutdown() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.haltLocked("self-shutdown")
}

// Watts is the machine's total draw.
func (m *Machine) Watts() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wattsLocked()
}

func (m *Machine) wattsLocked() float64 {
	switch m.state {
	case Standby:
		return m.cfg.StandbyWatts
	case Running:
		return m.cfg.RunningWatts
	default:
		return 0
	}
}

// powered reports whether any feeding outlet is on.
func (m *Machine) powered() bool {
	if m.cfg.PDU == "" {
		return true
	}
	p := m.rack.pdus[m.cfg.PDU]
	for _, o := range m.cfg.Outlets {
		if p.Outlet(o) {
			return true
		}
	}
	return false
}

// powerChanged is called by the PDU after one of the machine's outlets switched.
func (m *Machine) powerChanged() {
	powered := m.powered()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case !powered && m.state != Off:
		m.stopTimerLocked()
		m.vmStopLocked()
		m.state = Off
		m.log.Info("machine lost power", "machine", m.cfg.Name)
	case powered && m.state == Off:
		m.state = Standby
		m.log.Info("machine has standby power", "machine", m.cfg.Name)
		if m.cfg.PowerOnAfterACLoss {
			m.bootLocked("power on after AC loss")
		}
	}
}

// wake handles a magic packet for the machine.
func (m *Machine) wake() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wakes++
	if m.state == Standby {
		m.bootLocked("magic packet")
	}
}

func (m *Machine) bootLocked(why string) {
	if !m.vmStartLocked() {
		return
	}
	m.state = Running
	m.boots++
	m.log.Info("machine booted", "machine", m.cfg.Name, "why", why, "boots", m.boots)
	if m.console != nil {
		m.console.print(bootMessages(m.cfg.Name, m.boots))
	}
	if d := m.cfg.SelfShutdownAfter; d > 0 {
		m.stopTimerLocked()
		m.shutdown = time.AfterFunc(d, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.haltLocked("scheduled self-shutdown")
		})
	}
}

func (m *Machine) haltLocked(why string) {
	if m.state != Running {
		return
	}
	m.stopTimerLocked()
	m.vmStopLocked()
	m.state = Standby
	m.log.Info("machine shut itself down", "machine", m.cfg.Name, "why", why)
	if m.console != nil {
		m.console.print("\r\n[sim] reboot: Power down\r\n")
	}
}

func (m *Machine) stopTimerLocked() {
	if m.shutdown != nil {
		m.shutdown.Stop()
		m.shutdown = nil
	}
}
