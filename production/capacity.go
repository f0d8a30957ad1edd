package production

import (
	"context"
	"fmt"
	"time"
)

// capacityWindow is how far back a station's attempts tell its speed, and capacityMinAttempts how
// many it must have finished in that time for its speed to count.
const (
	capacityWindow      = time.Hour
	capacityMinAttempts = 5
)

// Capacity is the cards an hour the SLA sweep counts on: Total between all stations, and PerType
// the share of it that can make each card type (the stations loaded with that type's blanks). A
// nil PerType sets no limit by type (no station is up to tell). Both are upper bounds on what the
// line makes, so an order found late on them is late on any schedule.
type Capacity struct {
	Total   float64
	PerType map[CardType]float64
	// Measured: from the stations' attempts in the last hour (StationCapacity); otherwise the
	// configured figure.
	Measured bool
}

// A StationRate is a station in service (not retired), the card types it is loaded with, and its
// speed over the last hour when it finished enough attempts there, and made a card, to tell.
type StationRate struct {
	Name      string
	CardTypes []CardType
	PerHour   float64 // cards an hour, when Measured
	Measured  bool
}

// StationCapacity shares out the stations' speed (StationRates) as the SLA sweep counts on it. A
// measured station counts at its speed; one with no recent work to measure counts at the mean of
// the measured ones, or, when none is measured, at an equal share of configured (cards an hour
// between all stations). A parked station counts as the others do: a park is an operator's
// moment (blanks, ribbon, a jam), and an order the sweep flags at risk stays flagged, so a park
// during a sweep must not flag every order of the types its station makes. With no station at all
// there is no limit by type and the total is configured.
func StationCapacity(stations []StationRate, configured float64) Capacity {
	if len(stations) == 0 {
		return Capacity{Total: configured}
	}
	var sum float64
	measured := 0
	for _, s := range stations {
		if s.Measured {
			sum += s.PerHour
			measured++
		}
	}
	fallback := configured / float64(len(stations))
	if measured > 0 {
		fallback = sum / float64(measured)
	}
	c := Capacity{PerType: map[CardType]float64{}, Measured: measured > 0}
	for _, s := range stations {
		rate := fallback
		if s.Measured {
			rate = s.PerHour
		}
		c.Total += rate
		for _, t := range s.CardTypes {
			c.PerType[t] += rate
		}
	}
	return c
}

// StationRates lists the stations in service, each with its speed from its attempts finished in
// the hour before now: produced cards over the time its attempts took (so an idle station is not
// counted slow). Spoiled attempts count as time spent, not cards made. A station with fewer than
// capacityMinAttempts finished attempts in the hour, or none produced (its trouble is an
// operator's to see, not a speed), is listed unmeasured.
func (s *Store) StationRates(ctx context.Context, now time.Time) ([]StationRate, error) {
	// Only the part of an attempt inside the window counts as busy, and attempts cut short by a
	// stop or a park (resolved by recovery, perhaps hours later) are left out: they say nothing of
	// the station's speed.
	rows, err := s.pool.Query(ctx, `SELECT st.name, st.card_types, coalesce(a.produced, 0), coalesce(a.attempts, 0), coalesce(a.busy, 0)
		FROM stations st LEFT JOIN (
			SELECT station, count(*) FILTER (WHERE outcome = 'produced') AS produced, count(*) AS attempts,
				sum(extract(epoch FROM ended_at - greatest(started_at, $1)))::float8 AS busy
			FROM card_attempts WHERE ended_at > $1 AND ended_at <= $2 AND coalesce(reason, '') NOT LIKE $3 || '%'
			GROUP BY station) a ON a.station = st.name
		WHERE st.retired_at IS NULL
		ORDER BY st.name`, now.Add(-capacityWindow), now, interruptedReason)
	if err != nil {
		return nil, fmt.Errorf("measure station capacity: %w", err)
	}
	defer rows.Close()
	var out []StationRate
	for rows.Next() {
		var r StationRate
		var types []string
		var produced, attempts int
		var busy float64
		if err := rows.Scan(&r.Name, &types, &produced, &attempts, &busy); err != nil {
			return nil, fmt.Errorf("measure station capacity: %w", err)
		}
		for _, t := range types {
			r.CardTypes = append(r.CardTypes, CardType(t))
		}
		if attempts >= capacityMinAttempts && produced > 0 && busy > 0 {
			r.PerHour, r.Measured = float64(produced)/busy*3600, true
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("measure station capacity: %w", err)
	}
	return out, nil
}
