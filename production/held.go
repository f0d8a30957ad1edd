package production

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A HeldCard is a spoiled card the line will not remake on its own: it spoiled MaxAttempts times
// since it was queued (or last released), or its data cannot go on plastic. It waits for an
// operator, who looks at why and releases it (ReleaseCard): it is queued again, outside any print
// batch so that planning puts it first by its deadline, with a fresh set of attempts.
type HeldCard struct {
	Number     CardNumber
	OrderID    string
	CardType   CardType
	Hold       string // why it is held
	Attempts   int    // spoiled attempts, every one
	DispatchBy *time.Time
	Since      time.Time // when it was last spoiled
}

// HeldCards lists the cards waiting for an operator, the most urgent first.
func (s *Store) HeldCards(ctx context.Context) ([]HeldCard, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.card_number, c.order_id, c.card_type, c.hold,
		(SELECT count(*) FROM card_attempts a WHERE a.card_number = c.card_number AND a.outcome = 'spoiled'),
		o.dispatch_by, c.updated_at
		FROM cards c JOIN orders o USING (order_id)
		WHERE c.state = 'spoiled' AND c.hold IS NOT NULL
		ORDER BY o.dispatch_by NULLS LAST, c.card_number`)
	if err != nil {
		return nil, fmt.Errorf("list held cards: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HeldCard, error) {
		var h HeldCard
		err := r.Scan(&h.Number, &h.OrderID, &h.CardType, &h.Hold, &h.Attempts, &h.DispatchBy, &h.Since)
		return h, err
	})
}

// ErrNotHeld is returned by ReleaseCard for a card that is not waiting for an operator.
var ErrNotHeld = errors.New("card is not held")

// ReleaseCard is the operator's word that whatever kept spoiling card n is dealt with: the hold
// is lifted, the card queued again (audited with the operator's reason), out of its old batch, and
// its attempts count afresh. The same card number goes on the new blank; the chips of the spoiled
// attempts stay void.
func (s *Store) ReleaseCard(ctx context.Context, n CardNumber, actor, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fmt.Errorf("release card %s: reason: required (what was done about %q)", n, "the hold")
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state CardState
		var hold *string
		err := tx.QueryRow(ctx, "SELECT state, hold FROM cards WHERE card_number = $1 FOR UPDATE", string(n)).Scan(&state, &hold)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("release card %s: no such card", n)
		}
		if err != nil {
			return fmt.Errorf("release card %s: %w", n, err)
		}
		if state != CardSpoiled || hold == nil {
			return fmt.Errorf("release card %s (%s): %w", n, state, ErrNotHeld)
		}
		if _, err := tx.Exec(ctx, `UPDATE cards SET hold = NULL, released_at = now(), batch_id = NULL, batch_position = NULL
			WHERE card_number = $1`, string(n)); err != nil {
			return fmt.Errorf("release card %s: %w", n, err)
		}
		_, err = TransitionCard(ctx, tx, n, CardQueued, actor, "released: "+reason+" (was held: "+*hold+")")
		return err
	})
}

// RetireStation takes a station out of the lists once it is removed from service. A station whose
// worker runs, with a card on it, or parked, cannot be retired: its card must be resolved first. A worker that
// starts under the same name brings it back.
func (s *Store) RetireStation(ctx context.Context, name, actor string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state StationState
		var retired *time.Time
		err := tx.QueryRow(ctx, "SELECT state, retired_at FROM stations WHERE name = $1 FOR UPDATE", name).Scan(&state, &retired)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("retire station %s: no such station", name)
		}
		if err != nil {
			return fmt.Errorf("retire station %s: %w", name, err)
		}
		if retired != nil {
			return fmt.Errorf("retire station %s: retired already, on %s", name, retired.Format(time.DateOnly))
		}
		// A running worker holds the station's lock (idle between cards, it would look retirable).
		var free bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", stationLockKey(name)).Scan(&free); err != nil {
			return fmt.Errorf("retire station %s: %w", name, err)
		}
		if !free {
			return fmt.Errorf("retire station %s: its worker is running; stop it (remove it from the configuration and restart) first", name)
		}
		var onIt int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM cards WHERE station = $1", name).Scan(&onIt); err != nil {
			return fmt.Errorf("retire station %s: %w", name, err)
		}
		if state != StationIdle || onIt > 0 {
			return fmt.Errorf("retire station %s: it is %s with %d card(s) on it; stop its worker and let it resolve them (station clear) first", name, state, onIt)
		}
		if _, err := tx.Exec(ctx, "UPDATE stations SET retired_at = now(), updated_at = now() WHERE name = $1", name); err != nil {
			return fmt.Errorf("retire station %s: %w", name, err)
		}
		return audit(ctx, tx, actor, "station", name, string(state), "retired", "removed from service")
	})
}
