package provision

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaillogFilter feeds Postfix's log lines through the filter that
// stands between Postfix and the journal: no client name or address
// gets through, in any of the forms Postfix writes them; the loopback
// stays for following Mailman's mail.
func TestMaillogFilter(t *testing.T) {
	lines := []struct{ in, want string }{
		{"Dec  2 04:20:01 utzqanil postfix/smtpd[812]: connect from mail.example.net[192.0.2.7]",
			"postfix/smtpd[812]: connect from [client]"},
		{"postfix/smtpd[812]: connect from unknown[IPv6:2001:db8::7]",
			"postfix/smtpd[812]: connect from [client]"},
		{"postfix/anvil[801]: statistics: max connection rate 1/60s for (smtp:2001:db8::7) at Dec  2 04:20:01",
			"postfix/anvil[801]: statistics: max connection rate 1/60s for (smtp:[address]) at Dec  2 04:20:01"},
		{"postfix/anvil[801]: statistics: max connection count 1 for (smtp:192.0.2.7) at Dec  2 04:20:01",
			"postfix/anvil[801]: statistics: max connection count 1 for (smtp:[address]) at Dec  2 04:20:01"},
		{"postfix/smtpd[812]: NOQUEUE: reject: RCPT from x[192.0.2.7]: 454 4.7.1 <a@example.org>: Relay access denied; from=<b@example.net> to=<a@example.org> proto=ESMTP helo=<mail.example.net>",
			"postfix/smtpd[812]: NOQUEUE: reject: RCPT from [client]: 454 4.7.1 <a@example.org>: Relay access denied; from=<b@example.net> to=<a@example.org> proto=ESMTP helo=<...>"},
		{"postfix/postscreen[9]: CONNECT from [2001:db8:0:1::7]:41022 to [192.0.2.10]:25",
			"postfix/postscreen[9]: CONNECT from [client]:41022 to [client]:25"},
		{"warning: 2001:0db8:0000:0000:0000:ff00:0042:8329 and 2001:db8::7 at 04:20:01",
			"warning: [address] and [address] at 04:20:01"},
		{"warning: hostname x.example does not resolve to address 198.51.100.3",
			"warning: hostname x.example does not resolve to address [address]"},
		{"postfix/lmtp[900]: 4XyZ: to=<l@listes.example.org>, relay=127.0.0.1[127.0.0.1]:8024, status=sent",
			"postfix/lmtp[900]: 4XyZ: to=<l@listes.example.org>, relay=[loopback]:8024, status=sent"},
	}
	var in strings.Builder
	for _, l := range lines {
		in.WriteString(l.in + "\n")
	}
	cmd := exec.Command("lists/rootfs/usr/lib/ostal/maillog-filter")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, got, len(lines))
	for i, l := range lines {
		assert.Equal(t, l.want, got[i], "from %q", l.in)
	}
}
