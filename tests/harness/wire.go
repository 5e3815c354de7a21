package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ProbeMAC is the guest's second network card in a boot test: a wire
// whose Ethernet frames QEMU sends to a UDP socket of the test (netdev
// dgram). The harness speaks IPv6 link-local on it, which lets UDP from
// the host reach the guest: QEMU's restricted user network, the guest's
// only other link, drops every UDP datagram the guest sends, replies
// included. provision/base's 10-ostal-probe.network keeps that card
// link-local only.
const ProbeMAC = "52:54:00:0f:57:a1"

var (
	ourMAC  = net.HardwareAddr{0x02, 0, 0, 0x0f, 0x57, 0x01}
	ourIP   = net.ParseIP("fe80::1")
	guestIP = net.ParseIP("fe80::5054:ff:fe0f:57a1") // EUI-64 of ProbeMAC
)

// probeWire is the test's end of that wire.
type probeWire struct {
	sock      *net.UDPConn // where QEMU sends frames
	qemu      *net.UDPAddr // where QEMU listens
	guestMAC  net.HardwareAddr
	mu        sync.Mutex
	listeners map[uint16]chan []byte // by our UDP port
	next      uint16
}

func newProbeWire() (*probeWire, error) {
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("open the probe wire: %w", err)
	}
	// QEMU binds its own end; a port free now is free a moment later.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("open the probe wire: %w", err)
	}
	qemu := probe.LocalAddr().(*net.UDPAddr)
	probe.Close()
	mac, _ := net.ParseMAC(ProbeMAC)
	w := &probeWire{sock: sock, qemu: qemu, guestMAC: mac, listeners: map[uint16]chan []byte{}, next: 40000}
	go w.loop()
	return w, nil
}

// netdev is QEMU's -netdev argument for the guest's end.
func (w *probeWire) netdev(id string) string {
	ours := w.sock.LocalAddr().(*net.UDPAddr)
	return fmt.Sprintf("dgram,id=%s,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d",
		id, w.qemu.Port, ours.Port)
}

func (w *probeWire) Close() { w.sock.Close() }

// loop answers the guest's neighbour solicitations for our address and
// hands UDP datagrams to the connection they are for.
func (w *probeWire) loop() {
	buf := make([]byte, 65536)
	for {
		n, _, err := w.sock.ReadFromUDP(buf)
		if err != nil {
			return
		}
		f := buf[:n]
		if len(f) < 14+40 || binary.BigEndian.Uint16(f[12:]) != 0x86dd {
			continue
		}
		ip := f[14:]
		src, next, payload := net.IP(ip[8:24]), ip[6], ip[40:]
		if plen := int(binary.BigEndian.Uint16(ip[4:])); plen <= len(payload) {
			payload = payload[:plen]
		}
		switch {
		case next == 58 && len(payload) >= 24 && payload[0] == 135 && net.IP(payload[8:24]).Equal(ourIP):
			w.advertise(src)
		case next == 17 && len(payload) >= 8:
			port := binary.BigEndian.Uint16(payload[2:])
			w.mu.Lock()
			ch := w.listeners[port]
			w.mu.Unlock()
			if ch != nil {
				select {
				case ch <- append([]byte(nil), payload[8:]...):
				default:
				}
			}
		}
	}
}

// advertise tells the guest our link-layer address (RFC 4861 NA).
func (w *probeWire) advertise(to net.IP) {
	na := make([]byte, 32)
	na[0] = 136
	na[4] = 0x60 // solicited, override
	copy(na[8:], ourIP.To16())
	na[24], na[25] = 2, 1 // target link-layer address option
	copy(na[26:], ourMAC)
	binary.BigEndian.PutUint16(na[2:], checksum(ourIP, to, 58, na))
	w.send(to, 58, 255, na)
}

func (w *probeWire) send(dst net.IP, next byte, hops byte, payload []byte) error {
	f := make([]byte, 14+40+len(payload))
	copy(f, w.guestMAC)
	copy(f[6:], ourMAC)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = next, hops
	copy(ip[8:], ourIP.To16())
	copy(ip[24:], dst.To16())
	copy(ip[40:], payload)
	_, err := w.sock.WriteToUDP(f, w.qemu)
	return err
}

// checksum is the Internet checksum over the IPv6 pseudo-header and data.
func checksum(src, dst net.IP, next byte, data []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.To16())
	add(dst.To16())
	var l [8]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(data)))
	l[7] = next
	add(l[:])
	add(data)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Dial is a datagram connection to the guest's UDP port over the wire.
func (w *probeWire) Dial(guestPort int) net.Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.listeners[w.next] != nil {
		w.next++
	}
	port := w.next
	w.next++
	ch := make(chan []byte, 16)
	w.listeners[port] = ch
	return &wireConn{w: w, port: port, guestPort: uint16(guestPort), in: ch, done: make(chan struct{})}
}

// wireConn is one UDP "socket" on the wire; it is a net.PacketConn too,
// so DNS clients send bare datagrams, not TCP's length-prefixed stream.
type wireConn struct {
	w               *probeWire
	port, guestPort uint16
	in              chan []byte
	done            chan struct{} // closed by Close: a pending Read returns
	mu              sync.Mutex
	deadline        time.Time
	closed          bool
}

func (c *wireConn) Write(p []byte) (int, error) {
	u := make([]byte, 8+len(p))
	binary.BigEndian.PutUint16(u, c.port)
	binary.BigEndian.PutUint16(u[2:], c.guestPort)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], p)
	binary.BigEndian.PutUint16(u[6:], checksum(ourIP, guestIP, 17, u))
	return len(p), c.w.send(guestIP, 17, 64, u)
}

func (c *wireConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b := <-c.in:
		return copy(p, b), nil
	case <-c.done:
		return 0, net.ErrClosed
	case <-timeout:
		return 0, os.ErrDeadlineExceeded
	}
}

func (c *wireConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, err := c.Read(p)
	return n, c.RemoteAddr(), err
}
func (c *wireConn) WriteTo(p []byte, _ net.Addr) (int, error) { return c.Write(p) }

func (c *wireConn) Close() error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if !c.closed {
		delete(c.w.listeners, c.port)
		c.closed = true
		close(c.done)
	}
	return nil
}

func (c *wireConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: ourIP, Port: int(c.port), Zone: "probe"}
}
func (c *wireConn) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: guestIP, Port: int(c.guestPort), Zone: "probe"}
}
func (c *wireConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *wireConn) SetWriteDeadline(time.Time) error { return nil }
func (c *wireConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

var _ net.PacketConn = (*wireConn)(nil)
var errNoWire = errors.New("this guest has no probe wire")
