package sim

import (
	"context"
	"fmt"
	"sync"
)

// A machine with a VMConfig is a QEMU VM (vm.go): the hooks below start it
// when the machine boots and kill it when the machine halts or loses
// power, and put the machine in standby when the VM exits by itself.

// newVM prepares the machine's VM and binds its serial port.
func (r *Rack) newVM(m *Machine) error {
	cfg := *m.cfg.VM
	if len(m.cfg.MAC) == 0 {
		return fmt.Errorf("sim machine %s: a VM needs a MAC address", m.cfg.Name)
	}
	if _, err := qemuArgs(m.cfg.Name, m.cfg.MAC, cfg); err != nil {
		return fmt.Errorf("sim machine %s: %w", m.cfg.Name, err)
	}
	sp, err := listenSerial(cfg.Serial)
	if err != nil {
		return fmt.Errorf("sim machine %s serial port: %w", m.cfg.Name, err)
	}
	m.serial = sp
	m.vm = &vmProcess{name: m.cfg.Name, mac: m.cfg.MAC, cfg: cfg, serial: sp,
		log: func(msg string, args ...any) {
			r.log.Info(msg, append([]any{"machine", m.cfg.Name}, args...)...)
		},
		exited: m.vmExited}
	return nil
}

// serveVMs serves the VMs' serial ports until ctx ends.
func (r *Rack) serveVMs(ctx context.Context, wg *sync.WaitGroup) {
	for _, m := range r.machines {
		if m.serial == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.serial.serve(ctx)
		}()
	}
}

// closeVMs kills every VM and closes the serial ports.
func (r *Rack) closeVMs() {
	for _, m := range r.machines {
		if m.vm != nil {
			m.vm.stop()
			m.serial.close()
		}
	}
}

// vmStartLocked starts the VM of a machine that boots; false when it
// could not start (the machine stays in standby). m.mu must be held.
func (m *Machine) vmStartLocked() bool {
	if m.vm == nil {
		return true
	}
	if err := m.vm.start(); err != nil {
		m.log.Error("virtual machine did not start", "machine", m.cfg.Name, "err", err)
		return false
	}
	return true
}

// vmStopLocked kills the VM of a machine that halts or loses power.
func (m *Machine) vmStopLocked() {
	if m.vm != nil {
		m.vm.stop()
	}
}

// vmExited is a VM that exited by itself (the guest powered off, or QEMU
// failed): the machine is in standby again.
func (m *Machine) vmExited(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log.Warn("virtual machine exited by itself", "machine", m.cfg.Name, "err", err)
	if m.state == Running {
		m.stopTimerLocked()
		m.state = Standby
	}
}

// SerialLog is what the machine's VM printed on its serial port; nil for
// a machine that is not a VM.
func (m *Machine) SerialLog() *SerialLog {
	if m.serial == nil {
		return nil
	}
	return m.serial.log
}

// SerialAddr is the bound address of the VM's serial port, or "".
func (m *Machine) SerialAddr() string {
	if m.serial == nil {
		return ""
	}
	return m.serial.addr()
}

// VMRunning reports whether the machine's VM process runs.
func (m *Machine) VMRunning() bool { return m.vm != nil && m.vm.running() }

// VMStarts counts how often the machine's VM was started.
func (m *Machine) VMStarts() int {
	if m.vm == nil {
		return 0
	}
	m.vm.mu.Lock()
	defer m.vm.mu.Unlock()
	return m.vm.starts
}

// PressPowerButton boots a machine in standby, as a human at the rack
// does: the "on" of a machine whose node has no PDU and no Wake-on-LAN.
func (m *Machine) PressPowerButton() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == Standby {
		m.bootLocked("power button")
	}
}
