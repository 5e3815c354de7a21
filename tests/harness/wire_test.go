package harness

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQEMU is the guest's end of the wire: it receives the test's frames
// and sends its own.
func fakeQEMU(t *testing.T, w *probeWire) *net.UDPConn {
	c, err := net.ListenUDP("udp", w.qemu)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t *testing.T, c *net.UDPConn) []byte {
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	require.NoError(t, err)
	return buf[:n]
}

// frame builds what the guest would send: IPv6 from its link-local address.
func frame(next byte, payload []byte) []byte {
	f := make([]byte, 14+40+len(payload))
	copy(f, ourMAC)
	mac, _ := net.ParseMAC(ProbeMAC)
	copy(f[6:], mac)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	f[14] = 0x60
	binary.BigEndian.PutUint16(f[18:], uint16(len(payload)))
	f[20], f[21] = next, 64
	copy(f[22:], guestIP.To16())
	copy(f[38:], ourIP.To16())
	copy(f[54:], payload)
	return f
}

func TestProbeWireCarriesUDPAndAnswersNeighbourSolicitation(t *testing.T) {
	w, err := newProbeWire()
	require.NoError(t, err)
	defer w.Close()
	q := fakeQEMU(t, w)
	ours := w.sock.LocalAddr().(*net.UDPAddr)

	conn := w.Dial(53)
	defer conn.Close()
	_, err = conn.Write([]byte("question"))
	require.NoError(t, err)
	f := readFrame(t, q)
	assert.Equal(t, ProbeMAC, net.HardwareAddr(f[0:6]).String())
	assert.Equal(t, byte(17), f[20], "UDP")
	udp := f[54:]
	assert.Equal(t, uint16(53), binary.BigEndian.Uint16(udp[2:]))
	assert.Equal(t, "question", string(udp[8:]))
	assert.Equal(t, uint16(0), ^checksumRaw(ourIP, guestIP, 17, udp), "the UDP checksum verifies")

	// The guest asks who has fe80::1 before it answers.
	ns := make([]byte, 24)
	ns[0] = 135
	copy(ns[8:], ourIP.To16())
	q.WriteToUDP(frame(58, ns), ours)
	na := readFrame(t, q)[54:]
	assert.Equal(t, byte(136), na[0])
	assert.Equal(t, ourMAC, net.HardwareAddr(na[26:32]))

	reply := make([]byte, 8+6)
	binary.BigEndian.PutUint16(reply, 53)
	binary.BigEndian.PutUint16(reply[2:], uint16(conn.LocalAddr().(*net.UDPAddr).Port))
	copy(reply[8:], "answer")
	q.WriteToUDP(frame(17, reply), ours)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "answer", string(buf[:n]))
}

// checksumRaw is the one's-complement sum without the final inversion.
func checksumRaw(src, dst net.IP, next byte, data []byte) uint16 {
	return ^checksum(src, dst, next, data)
}
