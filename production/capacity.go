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

// MeasuredCapacity is the cards an hour the stations that are up make now, from their attempts
// finished in the hour before now: each station's attempts over the time they took (so an idle
// station is not counted slow), summed over stations neither parked nor retired. Spoiled attempts
// count as time spent, not cards made. ok is false when no station that is up has finished
// enough attempts in that hour to tell; the caller then uses its configured figure.
func (s *Store) MeasuredCapacity(ctx context.Context, now time.Time) (cardsPerHour float64, ok bool, err error) {
	// Only the part of an attempt inside the window counts as busy, and attempts cut short by a
	// stop or a park (resolved by recovery, perhaps hours later) are left out: they say nothing of
	// the station's speed.
	rows, err := s.pool.Query(ctx, `SELECT count(*) FILTER (WHERE a.outcome = 'produced'),
			count(*), sum(extract(epoch FROM a.ended_at - greatest(a.started_at, $1)))
		FROM card_attempts a JOIN stations st ON st.name = a.station
		WHERE a.ended_at > $1 AND a.ended_at <= $2 AND st.state <> 'parked' AND st.retired_at IS NULL
			AND coalesce(a.reason, '') NOT LIKE $3 || '%'
		GROUP BY a.station`, now.Add(-capacityWindow), now, interruptedReason)
	if err != nil {
		return 0, false, fmt.Errorf("measure station capacity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var produced, attempts int
		var busy float64
		if err := rows.Scan(&produced, &attempts, &busy); err != nil {
			return 0, false, fmt.Errorf("measure station capacity: %w", err)
		}
		if attempts < capacityMinAttempts || busy <= 0 {
			continue
		}
		cardsPerHour += float64(produced) / busy * 3600
		ok = true
	}
	return cardsPerHour, ok, rows.Err()
}
