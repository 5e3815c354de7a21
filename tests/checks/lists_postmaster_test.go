package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two messages as Postfix 3.10's postqueue -j prints them: another's
// and the check's, forwarded to the committee and waiting.
const postqueueJSON = `{"queue_name": "active", "queue_id": "4ZxK1d2Qv3z9", "arrival_time": 1764662000, "message_size": 512, "forced_expire": false, "sender": "list-bounces@listes.d.org", "recipients": [{"address": "root@vm.d.org"}]}
{"queue_name": "deferred", "queue_id": "4ZxK1f0Wq1z8", "arrival_time": 1764662010, "message_size": 733, "forced_expire": false, "sender": "ostal-check-0a1b2c@example.net", "recipients": [{"address": "comite@example.org", "delay_reason": "Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again"}, {"address": "comite@example.org", "delay_reason": "Host or domain name not found"}]}
`

func TestPostqueue(t *testing.T) {
	q, err := parsePostqueue(postqueueJSON)
	require.NoError(t, err)
	require.Len(t, q, 2)
	msg, ok := queuedFrom(q, "ostal-check-0a1b2c@example.net")
	require.True(t, ok)
	assert.Equal(t, "4ZxK1f0Wq1z8", msg.ID)
	assert.Equal(t, "deferred", msg.Queue)
	assert.Len(t, msg.Recipients, 2)
	assert.Contains(t, msg.reason(), "Host or domain name not found")
	_, ok = queuedFrom(q, "ostal-check-ffffff@example.net")
	assert.False(t, ok)

	q, err = parsePostqueue("")
	require.NoError(t, err)
	assert.Empty(t, q, "an empty queue prints nothing")

	_, err = parsePostqueue("Mail queue is empty\n")
	assert.ErrorContains(t, err, `postqueue -j printed "Mail queue is empty"`)
	_, err = parsePostqueue(`{"queue_id": "1; reboot", "sender": "a@b"}`)
	assert.ErrorContains(t, err, `a queue id "1; reboot"`, "a queue id goes into a command line")
}

func TestForwardedInLog(t *testing.T) {
	roles := []string{"postmaster@d.org", "abuse@d.org"}
	sent := `4ZxK1f0Wq1z8: from=<ostal-check-0a1b2c@example.net>, size=733, nrcpt=2 (queue active)
4ZxK1f0Wq1z8: to=<comite@example.org>, orig_to=<postmaster@d.org>, relay=mx.example.org[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.6/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)`
	ok, bounced := forwardedInLog(sent, "comite@example.org", roles)
	assert.True(t, ok)
	assert.Empty(t, bounced)

	ok, _ = forwardedInLog(sent, "other@example.org", roles)
	assert.False(t, ok, "delivered elsewhere than mail.postmaster")
	ok, _ = forwardedInLog(sent, "comite@example.org", []string{"abuse@e.org"})
	assert.False(t, ok, "another role's delivery")

	deferred := `4ZxK1f0Wq1z8: to=<comite@example.org>, orig_to=<abuse@d.org>, relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.3, status=deferred (Host or domain name not found)`
	ok, bounced = forwardedInLog(deferred, "comite@example.org", roles)
	assert.False(t, ok)
	assert.Empty(t, bounced)

	bounce := `4ZxK1f0Wq1z8: to=<comite@listes.d.org>, orig_to=<postmaster@d.org>, relay=127.0.0.1[127.0.0.1]:8024, delay=0.4, dsn=5.1.1, status=bounced (host 127.0.0.1 said: 550 5.1.1 No such list)`
	ok, bounced = forwardedInLog(bounce, "comite@listes.d.org", roles)
	assert.False(t, ok)
	assert.Contains(t, bounced, "No such list")
}
