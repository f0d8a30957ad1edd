package production

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProductionHours are when the stations make cards: from Start to End (time of day in Oslo) on
// Norwegian business days, the hours an operator is there to load blanks and clear faults. The
// SLA sweep counts production time only inside them, so a queue that looks like five hours' work
// at 14:00 on a Friday is ready on Monday, not on Friday evening. The zero value is around the
// clock on every day: stations that run unattended.
type ProductionHours struct {
	Start, End time.Duration // since local midnight; 0 <= Start < End <= 24h
	Days       *BusinessDays // nil: around the clock
}

// ParseProductionHours reads "HH:MM-HH:MM" (Oslo time, on business days), or "" or "always" for
// around the clock.
func ParseProductionHours(s string, days *BusinessDays) (ProductionHours, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "always" {
		return ProductionHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	start, err1 := timeOfDay(from)
	end, err2 := timeOfDay(to)
	if !ok || err1 != nil || err2 != nil {
		return ProductionHours{}, fmt.Errorf("production hours %q: want HH:MM-HH:MM (such as 07:00-15:30), or always", s)
	}
	h := ProductionHours{Start: start, End: end, Days: days}
	return h, h.check()
}

func timeOfDay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "24:00" {
		return 24 * time.Hour, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (h ProductionHours) check() error {
	if h.Days == nil {
		return nil
	}
	if h.Start < 0 || h.End > 24*time.Hour || h.Start >= h.End {
		return errors.New("production hours: the start must come before the end, within one day")
	}
	return nil
}

// String is the hours as ParseProductionHours reads them.
func (h ProductionHours) String() string {
	if h.Days == nil {
		return "always"
	}
	hm := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return hm(h.Start) + "-" + hm(h.End)
}

// After is when work of d production time, begun at t, is done: d counts only inside the hours.
func (h ProductionHours) After(t time.Time, d time.Duration) time.Time {
	if h.Days == nil {
		return t.Add(d)
	}
	z := h.Days.Zone()
	y, m, day := t.In(z).Date()
	at := func(i int, of time.Duration) time.Time { // wall-clock time, right across DST changes
		return time.Date(y, m, day+i, int(of/time.Hour), int(of%time.Hour/time.Minute), 0, 0, z)
	}
	// Two years of days: no calendar has that many without a business day, and a time past
	// them is late for any deadline.
	for i := range 2 * 366 {
		if !h.Days.IsBusinessDay(at(i, 12*time.Hour)) {
			continue
		}
		open, closed := at(i, h.Start), at(i, h.End)
		if t.After(open) {
			open = t
		}
		if !open.Before(closed) {
			continue
		}
		left := closed.Sub(open)
		if d <= left {
			return open.Add(d)
		}
		d -= left
	}
	return at(2*366, 0).Add(d)
}
