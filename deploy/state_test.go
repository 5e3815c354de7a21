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
	assert.EqualValues(t, "stop", back.Journal.Step)
	assert.Equal(t, s.History, back.History)

	empty, err := parseState("")
	require.NoError(t, err)
	assert.Nil(t, empty.Current)
	_, err = parseState("<deploy")
	assert.ErrorContains(t, err, "not readable")
}

// The steps and results are written into domains' metadata: a record
// written by an earlier ostal must still parse, and these values never
// change.
func TestStepsAndResultsKeepTheirRecordedValues(t *testing.T) {
	for c, want := range map[Step]string{StepLock: "lock", StepOverlay: "overlay", StepStop: "stop", StepSnapshot: "snapshot",
		StepDefine: "define", StepStart: "start", StepHealth: "health", StepCommit: "commit", StepRollback: "rollback"} {
		assert.Equal(t, want, string(c))
	}
	for c, want := range map[Result]string{ResultOK: "ok", ResultRolledBack: "rolled back", ResultUndone: "undone", ResultFailed: "failed"} {
		assert.Equal(t, want, string(c))
	}
	old := `<deploy xmlns="` + MetadataNS + `"><journal id="s2" who="ana@laptop" step="rollback" started="2026-11-25T03:00:00Z"><to digest="cd" volume="" overlay="" name="" size="0" since="0001-01-01T00:00:00Z"></to></journal>` +
		`<history><swap id="s1" who="ana@laptop" started="2026-11-25T03:00:00Z" finished="2026-11-25T03:02:00Z" to="ab" result="rolled back" downtime="61.5">dns</swap></history></deploy>`
	st, err := parseState(old)
	require.NoError(t, err)
	assert.Equal(t, StepRollback, st.Journal.Step)
	assert.Equal(t, ResultRolledBack, st.History[0].Result)
	x, err := st.xml()
	require.NoError(t, err)
	assert.Contains(t, x, `step="rollback"`)
	assert.Contains(t, x, `result="rolled back"`)
}
