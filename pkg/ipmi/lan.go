package ipmi

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// The LAN configuration an endpoint reports is the truth about its
// socket: the address and port it listens on, the MAC, mask, gateway and
// VLAN of the interface holding that address, the authentication types
// and cipher suites it offers. None of it can be set over IPMI: it comes
// from the configuration file and the host's network setup.

// LAN configuration parameter selectors (Table 23-4).
const (
	lanSetInProgress    = 0
	lanAuthTypeSupport  = 1
	lanAuthTypeEnables  = 2
	lanIPAddress        = 3
	lanIPSource         = 4
	lanMAC              = 5
	lanSubnetMask       = 6
	lanPrimaryRMCPPort  = 8
	lanDefaultGateway   = 12
	lanDefaultGwMAC     = 13
	lanVLANID           = 20
	lanVLANPriority     = 21
	lanCipherSuiteCount = 22
	lanCipherSuites     = 23
	lanCipherSuitePriv  = 24
)

// Completion codes of the configuration commands (Tables 22-28, 23-2).
const (
	ccParamReadOnly     = types.CompletionCode(0x82) // attempt to write a read-only parameter
	ccSetNotOnChannel   = types.CompletionCode(0x82) // set not supported on selected channel
	lanParamRevision    = 0x11
	ipSourceStatic      = 0x01
	v15AuthNone         = 1 << 0
	v15AuthMD2          = 1 << 1
	v15AuthMD5          = 1 << 2
	v15AuthPassword     = 1 << 4
	v15AuthOEM          = 1 << 5
	channelAlwaysAvail  = 0x02
	channelAlertingOff  = 0x20
	channelAccessVolat  = 0x80
	channelAccessNonVol = 0x40
)

// lanInfo is what the host knows about the endpoint's address.
type lanInfo struct {
	IP, Mask, Gateway netip.Addr
	MAC, GatewayMAC   net.HardwareAddr
	Port              uint16
	VLAN              uint16 // 0: none
}

// lanInfoFor looks up the interface that holds the endpoint's address. A
// wildcard address (0.0.0.0) is reported as such: the endpoint answers on
// every interface, so none of their MACs is "its" MAC.
func lanInfoFor(addr net.Addr) lanInfo {
	var li lanInfo
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return li
	}
	li.Port = uint16(ua.Port)
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return li
	}
	ip = ip.Unmap()
	if !ip.Is4() || ip.IsUnspecified() {
		return li
	}
	li.IP = ip
	ifaces, err := net.Interfaces()
	if err != nil {
		return li
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.Equal(ua.IP) {
				continue
			}
			if m := ipn.Mask; len(m) >= 4 {
				li.Mask = netip.AddrFrom4([4]byte(m[len(m)-4:]))
			}
			li.MAC = ifc.HardwareAddr
			li.Gateway = defaultGateway(ifc.Name)
			if li.Gateway.IsValid() {
				li.GatewayMAC = neighbourMAC(li.Gateway, ifc.Name)
			}
			li.VLAN = vlanID(ifc.Name)
			return li
		}
	}
	return li
}

// defaultGateway reads the interface's IPv4 default route from
// /proc/net/route (Linux); invalid when there is none.
func defaultGateway(ifname string) netip.Addr {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return netip.Addr{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags ...; addresses are hex, host order.
		if len(fields) < 3 || fields[0] != ifname || fields[1] != "00000000" {
			continue
		}
		b, err := hex.DecodeString(fields[2])
		if err != nil || len(b) != 4 {
			continue
		}
		return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]})
	}
	return netip.Addr{}
}

// neighbourMAC reads the gateway's MAC from the ARP table, when known.
func neighbourMAC(ip netip.Addr, ifname string) net.HardwareAddr {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// IP address, HW type, Flags, HW address, Mask, Device
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[0] != ip.String() || fields[5] != ifname {
			continue
		}
		if mac, err := net.ParseMAC(fields[3]); err == nil {
			return mac
		}
	}
	return nil
}

// vlanID reads an 802.1Q interface's VLAN ID from /proc/net/vlan (Linux).
func vlanID(ifname string) uint16 {
	b, err := os.ReadFile("/proc/net/vlan/" + ifname)
	if err != nil {
		return 0
	}
	// First line: "eth0.24  VID: 24	 REORDER_HDR: 1  dev->priv_flags: 1"
	fields := strings.Fields(string(b))
	for i, f := range fields {
		if f == "VID:" && i+1 < len(fields) {
			if v, err := strconv.Atoi(fields[i+1]); err == nil && v > 0 && v < 4096 {
				return uint16(v)
			}
		}
	}
	return 0
}

// v15AuthMask is the v1.5 authentication types the endpoint offers, as the
// LAN parameters encode them (Table 23-4 #1).
func v15AuthMask(b *bmc.BMC) byte {
	if !b.V15LANEnabled() {
		return 0
	}
	var m byte
	for _, t := range b.ResolvedV15AuthTypes() {
		switch t {
		case bmc.V15AuthTypeNone:
			m |= v15AuthNone
		case bmc.V15AuthTypeMD2:
			m |= v15AuthMD2
		case bmc.V15AuthTypeMD5:
			m |= v15AuthMD5
		case bmc.V15AuthTypePassword:
			m |= v15AuthPassword
		case bmc.V15AuthTypeOEM:
			m |= v15AuthOEM
		}
	}
	return m
}

// lanChannelOf resolves a request's channel nibble (0Eh is "this
// channel"); ok is false for any channel but the LAN channel.
func lanChannelOf(nibble byte) (byte, bool) {
	if nibble == 0x0E {
		nibble = lanChannel
	}
	return nibble, nibble == lanChannel
}

// handleGetLanConfigParam implements Get LAN Configuration Parameters
// (§23.2). go-ipmi's serves seven parameters and knows no address of its
// own (0.0.0.0, port 623); `ipmitool lan print` reads more.
func handleGetLanConfigParam(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelOperator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 4 {
		return nil, ccRequestDataTruncated, nil
	}
	if _, ok := lanChannelOf(req[0] & 0x0F); !ok {
		return nil, ccInvalidDataField, nil
	}
	ep := endpointOf(hctx)
	data, ok := ep.lanParam(hctx.BMC, req[1])
	if !ok {
		return nil, ccParamNotSupported, nil
	}
	if req[0]&0x80 != 0 { // parameter revision only
		return []byte{lanParamRevision}, ccOK, nil
	}
	return append([]byte{lanParamRevision}, data...), ccOK, nil
}

// lanParam is the data of one LAN configuration parameter.
func (ep *Endpoint) lanParam(b *bmc.BMC, sel byte) ([]byte, bool) {
	li := lanInfoFor(ep.Addr())
	ip4 := func(a netip.Addr) []byte {
		if !a.Is4() {
			return []byte{0, 0, 0, 0}
		}
		v := a.As4()
		return v[:]
	}
	mac := func(m net.HardwareAddr) []byte {
		if len(m) != 6 {
			return make([]byte, 6)
		}
		return append([]byte(nil), m...)
	}
	suites := b.ResolvedCipherSuites()
	switch sel {
	case lanSetInProgress:
		return []byte{0x00}, true // set complete
	case lanAuthTypeSupport:
		return []byte{v15AuthMask(b)}, true
	case lanAuthTypeEnables:
		// Callback, User, Operator, Administrator, OEM: every type offered
		// is accepted at every level.
		m := v15AuthMask(b)
		return []byte{m, m, m, m, 0}, true
	case lanIPAddress:
		return ip4(li.IP), true
	case lanIPSource:
		return []byte{ipSourceStatic}, true // from the configuration file
	case lanMAC:
		return mac(li.MAC), true
	case lanSubnetMask:
		return ip4(li.Mask), true
	case lanPrimaryRMCPPort:
		return binary.LittleEndian.AppendUint16(nil, li.Port), true
	case lanDefaultGateway:
		return ip4(li.Gateway), true
	case lanDefaultGwMAC:
		return mac(li.GatewayMAC), true
	case lanVLANID:
		v := li.VLAN
		if v != 0 {
			v |= 0x8000 // enabled
		}
		return binary.LittleEndian.AppendUint16(nil, v), true
	case lanVLANPriority:
		return []byte{0x00}, true
	case lanCipherSuiteCount:
		return []byte{byte(min(len(suites), 16))}, true
	case lanCipherSuites:
		out := []byte{0x00} // reserved
		for _, s := range suites[:min(len(suites), 16)] {
			out = append(out, byte(s))
		}
		return out, true
	case lanCipherSuitePriv:
		// Byte 1 reserved; then a nibble per suite entry, low nibble
		// first: the highest privilege the suite allows (the channel's).
		out := make([]byte, 9)
		for i := range suites[:min(len(suites), 16)] {
			out[1+i/2] |= byte(bmc.PrivilegeLevelAdministrator) << (4 * (i % 2))
		}
		return out, true
	}
	return nil, false
}

// handleSetLanConfigParam refuses every write: the endpoint's address and
// security settings come from the configuration file.
func handleSetLanConfigParam(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelAdministrator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 2 {
		return nil, ccRequestDataTruncated, nil
	}
	if _, ok := lanChannelOf(req[0] & 0x0F); !ok {
		return nil, ccInvalidDataField, nil
	}
	if _, ok := endpointOf(hctx).lanParam(hctx.BMC, req[1]); !ok {
		return nil, ccParamNotSupported, nil
	}
	return nil, ccParamReadOnly, nil
}

// handleGetChannelAccess implements Get Channel Access (§22.23) for the
// LAN channel: always available, per-message and user-level
// authentication on, PEF alerting off (the endpoint sends no alerts), up
// to ADMINISTRATOR; the same volatile and non-volatile.
func handleGetChannelAccess(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 2 {
		return nil, ccRequestDataTruncated, nil
	}
	if _, ok := lanChannelOf(req[0] & 0x0F); !ok {
		return nil, ccInvalidDataField, nil
	}
	switch req[1] & 0xC0 {
	case channelAccessVolat, channelAccessNonVol:
	default:
		return nil, ccInvalidDataField, nil
	}
	return []byte{channelAlertingOff | channelAlwaysAvail, byte(bmc.PrivilegeLevelAdministrator)}, ccOK, nil
}

// handleSetChannelAccess refuses: channel access is configuration.
func handleSetChannelAccess(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if cc := requirePrivilege(hctx, bmc.PrivilegeLevelAdministrator); cc != ccOK {
		return nil, cc, nil
	}
	if len(req) < 3 {
		return nil, ccRequestDataTruncated, nil
	}
	if _, ok := lanChannelOf(req[0] & 0x0F); !ok {
		return nil, ccInvalidDataField, nil
	}
	return nil, ccSetNotOnChannel, nil
}

// networkHAL reports the endpoint's address to anything in go-ipmi that
// asks; it cannot be changed over IPMI.
type networkHAL struct{ ep *Endpoint }

func (n networkHAL) GetConfig(context.Context) (*hal.IPConfig, error) {
	li := lanInfoFor(n.ep.Addr())
	var c hal.IPConfig
	if li.IP.Is4() {
		c.IP = li.IP.As4()
	}
	if li.Mask.Is4() {
		c.Mask = li.Mask.As4()
	}
	if li.Gateway.Is4() {
		c.Gateway = li.Gateway.As4()
	}
	copy(c.MAC[:], li.MAC)
	c.Port = li.Port
	return &c, nil
}

func (n networkHAL) SetConfig(context.Context, *hal.IPConfig) error { return hal.ErrNotSupported }
