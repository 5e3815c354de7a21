package checks

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ssOutput = `udp   UNCONN 0      0           127.0.0.1:323        0.0.0.0:*    users:(("chronyd",pid=601,fd=5))
udp   UNCONN 0      0             0.0.0.0:53         0.0.0.0:*    users:(("knotd",pid=700,fd=20),("knotd",pid=700,fd=21))
udp   UNCONN 0      0      10.0.2.15%eth0:68         0.0.0.0:*    users:(("systemd-network",pid=300,fd=22))
udp   UNCONN 0      0               [::1]:323           [::]:*    users:(("chronyd",pid=601,fd=6))
tcp   LISTEN 0      128           0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=500,fd=3))
tcp   LISTEN 0      80          127.0.0.1:3306       0.0.0.0:*    users:(("mariadbd",pid=800,fd=21))
tcp   LISTEN 0      4096    127.0.0.53%lo:53         0.0.0.0:*    users:(("systemd-resolve",pid=310,fd=15))
tcp   LISTEN 0      511              [::]:443           [::]:*    users:(("nginx",pid=900,fd=7),("nginx",pid=901,fd=7))
tcp   LISTEN 0      100                 *:5232             *:*    users:(("radicale",pid=950,fd=4))
tcp   LISTEN 0      100     [fe80::5054:ff:fe12:3456]%eth0:8000 [::]:*
`

func TestParseListeners(t *testing.T) {
	ls, err := parseListeners(ssOutput)
	require.NoError(t, err)
	require.Len(t, ls, 10)
	assert.Equal(t, listener{Proto: "udp", Host: "0.0.0.0", Port: 53, Process: "knotd(700)"}, ls[1])
	assert.Equal(t, listener{Proto: "udp", Host: "10.0.2.15", Iface: "eth0", Port: 68, Process: "systemd-network(300)"}, ls[2])
	assert.Equal(t, listener{Proto: "tcp", Host: "::", Port: 443, Process: "nginx(900),nginx(901)"}, ls[7])
	assert.Equal(t, listener{Proto: "tcp", Host: "fe80::5054:ff:fe12:3456", Iface: "eth0", Port: 8000}, ls[9])

	ok, bad := exposed(ls, allowedPorts)
	var okS, badS []string
	for _, l := range ok {
		okS = append(okS, l.String())
	}
	for _, l := range bad {
		badS = append(badS, l.String())
	}
	assert.Equal(t, []string{"udp 0.0.0.0:53 by knotd(700)", "udp 10.0.2.15:68 on eth0 by systemd-network(300)",
		"tcp 0.0.0.0:22 by sshd(500)", "tcp [::]:443 by nginx(900),nginx(901)"}, okS)
	assert.Equal(t, []string{"tcp 0.0.0.0:5232 by radicale(950)", "tcp [fe80::5054:ff:fe12:3456]:8000 on eth0"}, badS)

	_, err = parseListeners("Netid State Recv-Q\n")
	assert.ErrorContains(t, err, `ss printed "Netid State Recv-Q"`)
	_, err = parseListeners("tcp LISTEN 0 1 0.0.0.0:http 0.0.0.0:*")
	assert.ErrorContains(t, err, "expected a numeric port")
}

const nftRuleset = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22, 25, 53, 80, 443 } accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
	chain helper {
		tcp dport 8000 drop
	}
}
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat;
	}
}
`

func TestInputDrops(t *testing.T) {
	chains := parseNftChains(nftRuleset)
	assert.Equal(t, []nftChain{
		{"inet", "filter", "input", "input", "drop"},
		{"inet", "filter", "forward", "forward", "drop"},
		{"inet", "filter", "output", "output", "accept"},
		{"ip", "nat", "prerouting", "prerouting", "accept"},
	}, chains)
	got, err := inputDrops(chains)
	require.NoError(t, err)
	assert.Equal(t, []string{"inet filter input (policy drop)"}, got)

	_, err = inputDrops([]nftChain{{"ip", "f", "input", "input", "drop"}, {"ip6", "f", "input", "input", "accept"}})
	assert.EqualError(t, err, "IPv6 input has no chain with policy drop (only ip f input (policy drop))")
	_, err = inputDrops([]nftChain{{"inet", "f", "in", "input", "accept"}})
	assert.EqualError(t, err, "no input chain has policy drop, expected one; input chains: inet f in (policy accept)")
	_, err = inputDrops(nil)
	assert.ErrorContains(t, err, "no base chain hooks input")
	got, err = inputDrops([]nftChain{{"ip", "f", "input", "input", "drop"}, {"ip6", "f6", "input", "input", "drop"}})
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// TestProbe runs the probe against local listeners only: one that
// answers, one that closes at once, one that stays silent is not tried
// (it would take probeWait).
func TestProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				c.Write([]byte("5.5.5-MariaDB"))
			}
			c.Close()
		}
	}()
	ans, ending, err := probe(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, "5.5.5-MariaDB", string(ans))
	assert.Empty(t, ending)

	ans, ending, err = probe(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	assert.Empty(t, ans)
	assert.Contains(t, []string{"closed", "reset", "reset on write"}, ending)

	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := free.Addr().String()
	free.Close()
	_, ending, err = probe(context.Background(), addr)
	require.NoError(t, err)
	assert.Equal(t, "refused", ending)
}
