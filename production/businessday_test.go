package production

import (
	"testing"
	"time"
)

func TestBusinessDays(t *testing.T) {
	b, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	oslo := b.Zone()
	day := func(s string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, s, oslo)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Every Norwegian public holiday 2026–2030 that falls on a weekday, computed by hand from
	// Easter Sunday (2026-04-05, 2027-03-28, 2028-04-16, 2029-04-01, 2030-04-21).
	holidays := []string{
		"2026-01-01", "2026-04-02", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-05-25", "2026-12-25",
		"2027-01-01", "2027-03-25", "2027-03-26", "2027-03-29", "2027-05-06", "2027-05-17",
		"2028-04-13", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-17", "2028-05-25", "2028-06-05", "2028-12-25", "2028-12-26",
		"2029-01-01", "2029-03-29", "2029-03-30", "2029-04-02", "2029-05-01", "2029-05-10", "2029-05-17", "2029-05-21", "2029-12-25", "2029-12-26",
		"2030-01-01", "2030-04-18", "2030-04-19", "2030-04-22", "2030-05-01", "2030-05-17", "2030-05-30", "2030-06-10", "2030-12-25", "2030-12-26",
	}
	isHoliday := map[string]bool{}
	for _, h := range holidays {
		isHoliday[h] = true
		if wd := day(h).Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Fatalf("test table lists %s, a %s", h, wd)
		}
	}
	// Walk every day of the five years: business day iff weekday and not in the table.
	for d := day("2026-01-01"); d.Year() <= 2030; d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		want := d.Weekday() != time.Saturday && d.Weekday() != time.Sunday && !isHoliday[key]
		if got := b.IsBusinessDay(d); got != want {
			t.Errorf("IsBusinessDay(%s %s) = %v, want %v", key, d.Weekday(), got, want)
		}
	}

	deadlines := []struct {
		approved time.Time
		want     string
	}{
		{time.Date(2026, 11, 23, 9, 15, 0, 0, oslo), "2026-11-27"},      // Monday → Friday
		{time.Date(2026, 11, 21, 12, 0, 0, 0, oslo), "2026-11-26"},      // Saturday → Thursday
		{time.Date(2027, 3, 24, 10, 0, 0, 0, oslo), "2027-04-02"},       // Easter 2027: Thu, Fri, Mon are holidays
		{time.Date(2027, 5, 12, 10, 0, 0, 0, oslo), "2027-05-19"},       // 17 May 2027 is a Monday
		{time.Date(2026, 12, 22, 23, 59, 0, 0, oslo), "2026-12-29"},     // Tue: 23, 24 (counts), 28, 29; 25th a Friday
		{time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC), "2026-11-27"}, // 00:30 Monday in Oslo
	}
	for _, c := range deadlines {
		got := b.DispatchBy(c.approved)
		if got.Format(time.DateOnly) != c.want || got.Location() != oslo {
			t.Errorf("DispatchBy(%s) = %s, want %s in Oslo", c.approved, got, c.want)
		}
	}
}
