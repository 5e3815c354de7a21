package deploy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func paris(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	return loc
}

func TestParseWindowString(t *testing.T) {
	for in, want := range map[string]string{
		"Sun 02:00-04:00":                         "Sun 02:00-04:00",
		"thu,MON 22:00-23:30":                     "Mon,Thu 22:00-23:30",
		"daily 03:00-05:00":                       "daily 03:00-05:00",
		"Mon,Tue,Wed,Thu,Fri,Sat,Sun 03:00-05:00": "daily 03:00-05:00",
		"  Sat   23:00-01:00 ":                    "Sat 23:00-01:00",
		"":                                        "any time",
	} {
		w, err := ParseWindow(in, nil)
		require.NoError(t, err, in)
		assert.Equal(t, want, w.String(), in)
	}
}

func TestParseWindowErrors(t *testing.T) {
	for in, want := range map[string]string{
		"Sun":                 `"Sun" is not DAYS HH:MM-HH:MM`,
		"Sun 02:00 04:00":     `"Sun 02:00 04:00" is not DAYS HH:MM-HH:MM`,
		"Sunday 02:00-04:00":  `"Sunday" is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)`,
		"Sun,Sun 02:00-04:00": `Sun is listed twice`,
		"Sun 02:00":           `"02:00" is not a time range HH:MM-HH:MM`,
		"Sun 2:00-04:00":      `"2:00" is not a time of day HH:MM`,
		"Sun 02:00-24:00":     `"24:00" is not a time of day HH:MM`,
		"Sun 02:00-02:00":     `"02:00-02:00" starts and ends at the same time`,
	} {
		_, err := ParseWindow(in, nil)
		assert.EqualError(t, err, want, in)
	}
}

func TestWindowNextAndContains(t *testing.T) {
	loc := paris(t)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	// 2025-06-01 is a Sunday; 2025-03-30 (spring) and 2025-10-26 (autumn)
	// are the Sundays Paris changes clocks, at 02:00 and 03:00.
	for _, tc := range []struct {
		name, window string
		t            time.Time
		in           bool
		start, end   time.Time
	}{
		{"before", "Sun 02:00-04:00", at(2025, 6, 1, 1, 59), false, at(2025, 6, 1, 2, 0), at(2025, 6, 1, 4, 0)},
		{"at start", "Sun 02:00-04:00", at(2025, 6, 1, 2, 0), true, at(2025, 6, 1, 2, 0), at(2025, 6, 1, 4, 0)},
		{"inside", "Sun 02:00-04:00", at(2025, 6, 1, 3, 59), true, at(2025, 6, 1, 2, 0), at(2025, 6, 1, 4, 0)},
		{"at end", "Sun 02:00-04:00", at(2025, 6, 1, 4, 0), false, at(2025, 6, 8, 2, 0), at(2025, 6, 8, 4, 0)},
		{"midweek", "Sun 02:00-04:00", at(2025, 6, 4, 12, 0), false, at(2025, 6, 8, 2, 0), at(2025, 6, 8, 4, 0)},
		{"two days", "Mon,Thu 22:00-23:30", at(2025, 6, 3, 9, 0), false, at(2025, 6, 5, 22, 0), at(2025, 6, 5, 23, 30)},
		{"daily", "daily 03:00-05:00", at(2025, 6, 4, 5, 0), false, at(2025, 6, 5, 3, 0), at(2025, 6, 5, 5, 0)},
		{"across midnight, before it", "Sat 23:00-01:00", at(2025, 5, 31, 23, 30), true, at(2025, 5, 31, 23, 0), at(2025, 6, 1, 1, 0)},
		{"across midnight, after it", "Sat 23:00-01:00", at(2025, 6, 1, 0, 30), true, at(2025, 5, 31, 23, 0), at(2025, 6, 1, 1, 0)},
		{"across midnight, Sunday morning", "Sat 23:00-01:00", at(2025, 6, 1, 1, 0), false, at(2025, 6, 7, 23, 0), at(2025, 6, 8, 1, 0)},
		{"until midnight", "Sat 22:00-00:00", at(2025, 5, 31, 23, 59), true, at(2025, 5, 31, 22, 0), at(2025, 6, 1, 0, 0)},
		{"new year", "daily 23:00-01:00", at(2025, 12, 31, 23, 30), true, at(2025, 12, 31, 23, 0), at(2026, 1, 1, 1, 0)},
		// Spring: 02:00 does not exist; the window opens at 03:00 CEST
		// and lasts one hour.
		{"spring, skipped hour", "Sun 02:00-04:00", at(2025, 3, 30, 1, 59), false, at(2025, 3, 30, 3, 0), at(2025, 3, 30, 4, 0)},
		{"spring, inside", "Sun 02:00-04:00", at(2025, 3, 30, 3, 30), true, at(2025, 3, 30, 3, 0), at(2025, 3, 30, 4, 0)},
		// Autumn: 02:00-03:00 happens twice; the window opens at the
		// second 02:00 (CET) and lasts two hours, not three.
		{"autumn, first 02:30", "Sun 02:00-04:00", time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC), false, at(2025, 10, 26, 2, 0), at(2025, 10, 26, 4, 0)},
		{"autumn, second 02:30", "Sun 02:00-04:00", time.Date(2025, 10, 26, 1, 30, 0, 0, time.UTC), true, at(2025, 10, 26, 2, 0), at(2025, 10, 26, 4, 0)},
		{"other zone's time", "Sun 02:00-04:00", time.Date(2025, 6, 1, 0, 30, 0, 0, time.UTC), true, at(2025, 6, 1, 2, 0), at(2025, 6, 1, 4, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.window, loc)
			require.NoError(t, err)
			assert.Equal(t, tc.in, w.Contains(tc.t))
			start, end := w.Next(tc.t)
			assert.True(t, tc.start.Equal(start), "start %s, want %s", start, tc.start)
			assert.True(t, tc.end.Equal(end), "end %s, want %s", end, tc.end)
		})
	}
}

func TestWindowDSTLengths(t *testing.T) {
	loc := paris(t)
	w, err := ParseWindow("Sun 02:00-04:00", loc)
	require.NoError(t, err)
	for day, want := range map[int]time.Duration{3: time.Hour, 10: 2 * time.Hour} {
		month := time.Month(day)
		start, end := w.Next(time.Date(2025, month, 24, 0, 0, 0, 0, loc))
		assert.Equal(t, want, end.Sub(start), month.String())
	}
}

func TestAlwaysOpenWindow(t *testing.T) {
	w, err := ParseWindow("", paris(t))
	require.NoError(t, err)
	now := time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC)
	assert.True(t, w.Always())
	assert.True(t, w.Contains(now))
	start, end := w.Next(now)
	assert.Equal(t, now, start)
	assert.True(t, end.After(now.AddDate(100, 0, 0)))
	assert.True(t, Window{}.Contains(now), "the zero Window is always open")
}
