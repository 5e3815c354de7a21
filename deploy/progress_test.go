package deploy

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProgressLine(t *testing.T) {
	const mib = int64(1) << 20
	for _, tc := range []struct {
		name        string
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{"mid-transfer", 256 * mib, 1024 * mib, 4 * time.Second,
			"upload   256.0/1024.0 MiB  25%   64.0 MiB/s  ETA 12s   "},
		{"ETA rounded to the second", 100 * mib, 200 * mib, 3 * time.Second,
			"upload   100.0/200.0 MiB  50%   33.3 MiB/s  ETA 3s   "},
		{"nothing sent yet", 0, 512 * mib, 0,
			"upload     0.0/512.0 MiB   0%    0.0 MiB/s  ETA -   "},
		{"done", 1024 * mib, 1024 * mib, 2500 * time.Millisecond,
			"upload  1024.0/1024.0 MiB 100%  409.6 MiB/s  ETA done in 2.5s   "},
		{"empty transfer", 0, 0, 0,
			"upload     0.0/0.0 MiB 100%    0.0 MiB/s  ETA done in 0s   "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, progressLine("upload", tc.done, tc.total, tc.elapsed))
		})
	}
}

func TestProgressToALogPrintsQuarters(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "upload", 100)
	require.False(t, p.tty, "a buffer is not a terminal")
	for range 100 {
		p.add(1)
	}
	p.finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 4, "one line per quarter and the final one:\n%s", buf.String())
	for i, pct := range []string{" 25%", " 50%", " 75%", "100%"} {
		assert.Contains(t, lines[i], pct)
		assert.True(t, strings.HasPrefix(lines[i], "upload "), lines[i])
	}
	assert.Contains(t, lines[3], "done in")
	assert.NotContains(t, buf.String(), "\r", "a log gets no carriage returns")
}

func TestProgressToALogSkipsQuartersInOneStep(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "check ", 1000)
	p.add(10)  // under a quarter: nothing
	p.add(800) // past three quarters at once: one line
	p.add(100)
	p.finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], " 81%")
	assert.Contains(t, lines[1], " 91%", "the final line tells what was done, even if short of the total")
	assert.NotContains(t, lines[1], "done in")
}
