package production

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Oslo must resolve on machines without a zoneinfo database

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/no"
)

// BusinessDays is the one Norwegian business-day calendar of the line, used for dispatch
// deadlines, planning and shipping alike: Monday to Friday, except the public holidays (1 January,
// Maundy Thursday, Good Friday, Easter Monday, 1 May, 17 May, Ascension Day, Whit Monday, 25 and
// 26 December). Dates are taken in Europe/Oslo. Christmas Eve and New Year's Eve are ordinary
// business days by law, and the calendar treats them so.
type BusinessDays struct {
	cal  *cal.BusinessCalendar
	zone *time.Location
}

// NewBusinessDays builds the calendar. It fails only if the time zone data is missing.
func NewBusinessDays() (*BusinessDays, error) {
	zone, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		return nil, fmt.Errorf("load Europe/Oslo time zone: %w", err)
	}
	c := cal.NewBusinessCalendar()
	c.AddHoliday(no.Holidays...)
	return &BusinessDays{cal: c, zone: zone}, nil
}

// Zone is Europe/Oslo, the zone every date of the line is taken in.
func (b *BusinessDays) Zone() *time.Location { return b.zone }

// IsBusinessDay reports whether t's date in Oslo is a Norwegian business day.
func (b *BusinessDays) IsBusinessDay(t time.Time) bool {
	return b.cal.IsWorkday(b.date(t))
}

// Add returns the date n business days after t's date in Oslo (n ≥ 0; the day of t itself does not
// count). The result is midnight in Oslo of that date.
func (b *BusinessDays) Add(t time.Time, n int) time.Time {
	d := b.date(t)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if b.cal.IsWorkday(d) {
			n--
		}
	}
	return d
}

// DispatchBy is the dispatch deadline of an order approved at approvedAt: its cards must leave
// production by the end of the fourth Norwegian business day after the day of approval (an order
// approved on a Saturday counts from Monday, so it is due on Thursday).
func (b *BusinessDays) DispatchBy(approvedAt time.Time) time.Time {
	return b.Add(approvedAt, DispatchBusinessDays)
}

// DispatchBusinessDays is the scheme's promise: cards leave production within 4 business days.
const DispatchBusinessDays = 4

func (b *BusinessDays) date(t time.Time) time.Time {
	y, m, d := t.In(b.zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, b.zone)
}
