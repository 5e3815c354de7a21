package deploy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	s := &State{
		Current: &Release{Digest: "ab", Volume: "v", Overlay: "o", Name: "utzqanil", Since: now},
		Lock:    &Lock{Who: "ana@laptop", PID: 7, Host: "laptop", Since: now, Beat: now},
		Journal: &Journal{ID: "s1", Step: "stop", To: Release{Digest: "cd"}},
		History: []Swap{{ID: "s0", Who: "ana@laptop", To: "ab", Result: "ok", Downtime: 61.5, Detail: "first <deployment>"}},
	}
	x, err := s.xml()
	require.NoError(t, err)
	assert.Contains(t, x, `xmlns="`+MetadataNS+`"`)
	back, err := parseState(x)
	require.NoError(t, err)
	assert.Equal(t, s.Current, back.Current)
	assert.Equal(t, s.Lock, back.Lock)
	assert.Equal(t, "stop", back.Journal.Step)
	assert.Equal(t, s.History, back.History)

	empty, err := parseState("")
	require.NoError(t, err)
	assert.Nil(t, empty.Current)
	_, err = parseState("<deploy")
	assert.ErrorContains(t, err, "not readable")
}
