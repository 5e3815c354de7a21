package deploy

import (
	"fmt"
	"strings"
	"time"
)

// Window is a recurring maintenance window, by the wall clock of its
// time zone: the deployer swaps images only inside it, when the
// committee has agreed that members may lose the services for a while.
// The zero Window is always open.
type Window struct {
	days       [7]bool // by time.Weekday: the days a window starts on
	start, end int     // minutes after midnight; end <= start crosses midnight
	loc        *time.Location
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ParseWindow reads "Sun 02:00-04:00", "Mon,Thu 22:00-23:30" or "daily
// 03:00-05:00" in loc (UTC when nil). A window may cross midnight: "Sat
// 23:00-01:00" ends on Sunday. The empty string is the always open window.
func ParseWindow(s string, loc *time.Location) (Window, error) {
	if loc == nil {
		loc = time.UTC
	}
	w := Window{loc: loc}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Window{}, nil
	}
	if len(fields) != 2 {
		return Window{}, fmt.Errorf("%q is not DAYS HH:MM-HH:MM", s)
	}
	if strings.EqualFold(fields[0], "daily") {
		w.days = [7]bool{true, true, true, true, true, true, true}
	} else {
		for _, name := range strings.Split(fields[0], ",") {
			d := weekday(name)
			if d < 0 {
				return Window{}, fmt.Errorf("%q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)", name)
			}
			if w.days[d] {
				return Window{}, fmt.Errorf("%s is listed twice", dayNames[d])
			}
			w.days[d] = true
		}
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not a time range HH:MM-HH:MM", fields[1])
	}
	var err error
	if w.start, err = minuteOfDay(from); err != nil {
		return Window{}, err
	}
	if w.end, err = minuteOfDay(to); err != nil {
		return Window{}, err
	}
	if w.start == w.end {
		return Window{}, fmt.Errorf("%q starts and ends at the same time", fields[1])
	}
	return w, nil
}

func weekday(name string) int {
	for i, n := range dayNames {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

func minuteOfDay(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil || len(hhmm) != 5 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", hhmm)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Always reports whether the window is always open.
func (w Window) Always() bool { return w.days == [7]bool{} }

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool {
	start, _ := w.Next(t)
	return !start.After(t)
}

// Next returns the window t is in, or else the next one. Bounds are taken
// by the wall clock, so on the days clocks change a window is an hour
// shorter or longer: a bound in the skipped hour moves past it, and one in
// the repeated hour is its second occurrence (Go's time.Date). An always
// open window starts at t and ends a thousand years later.
func (w Window) Next(t time.Time) (start, end time.Time) {
	if w.Always() {
		return t, t.AddDate(1000, 0, 0)
	}
	local := t.In(w.loc)
	y, m, d := local.Date()
	// A window that started yesterday may still be open; eight days ahead
	// always reach one.
	for offset := -1; offset <= 8; offset++ {
		day := time.Date(y, m, d+offset, 12, 0, 0, 0, w.loc)
		if !w.days[day.Weekday()] {
			continue
		}
		start = w.at(day, 0, w.start)
		end = w.at(day, 0, w.end)
		if w.end <= w.start {
			end = w.at(day, 1, w.end)
		}
		if end.After(t) {
			return start, end
		}
	}
	panic("deploy: no maintenance window within eight days") // unreachable: some day is set
}

// at is minute of the day days after day, in the window's zone.
func (w Window) at(day time.Time, days, minute int) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d+days, minute/60, minute%60, 0, 0, w.loc)
}

// String is the window as written in an environment file.
func (w Window) String() string {
	if w.Always() {
		return "any time"
	}
	var days []string
	for i := range 7 {
		// Written Monday first, as people do.
		if d := (i + 1) % 7; w.days[d] {
			days = append(days, dayNames[d])
		}
	}
	list := strings.Join(days, ",")
	if len(days) == 7 {
		list = "daily"
	}
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d", list, w.start/60, w.start%60, w.end/60, w.end%60)
}
