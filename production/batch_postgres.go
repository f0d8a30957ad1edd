package production

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// batchPlanLock serialises planning across instances: two planners at once would both see a card
// unbatched.
const batchPlanLock = 0x7072696e74706c6e // "printpln"

// PlanPrintBatches plans every queued card that is in no live batch into print batches of at most
// size cards (see PlanBatches for the rules) and returns the batches it made or added to. The pool
// is the queued cards never batched, those a forced close returned, and those re-queued after their
// batch was closed (a remade card whose batch is gone). Cards already in a planned, started or
// paused batch stay where they are, so a re-run with nothing new plans nothing. A card type's last
// live batch, while still planned, takes the new cards that rank as it does (OpenBatch: at risk
// or not, and the dispatch date), so a day's orders trickling in between plans fill it instead of
// making small batches. Instances are
// serialised by a transaction-scoped advisory lock; the open batch is row-locked, so an operator's
// start waits for the plan and starts the batch with what it added.
func (s *Store) PlanPrintBatches(ctx context.Context, size int, actor string) ([]PrintBatch, error) {
	var out []PrintBatch
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = nil
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(batchPlanLock)); err != nil {
			return fmt.Errorf("take planning lock: %w", err)
		}
		// SKIP LOCKED: a card a transition holds right now waits for the next plan.
		rows, err := tx.Query(ctx, `SELECT c.card_number, c.order_id, c.position, c.card_type, o.dispatch_by, o.at_risk
			FROM cards c JOIN orders o USING (order_id) LEFT JOIN print_batches b ON b.batch_id = c.batch_id
			WHERE c.state = 'queued' AND (c.batch_id IS NULL OR b.state = 'closed')
			FOR UPDATE OF c SKIP LOCKED`)
		if err != nil {
			return fmt.Errorf("read unbatched cards: %w", err)
		}
		cards, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueuedCard, error) {
			var c QueuedCard
			var due *time.Time
			err := r.Scan(&c.Number, &c.OrderID, &c.Position, &c.CardType, &due, &c.AtRisk)
			if due != nil {
				c.DispatchBy = *due
			}
			return c, err
		})
		if err != nil {
			return fmt.Errorf("read unbatched cards: %w", err)
		}
		if len(cards) == 0 {
			return nil
		}
		open, err := openBatches(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range PlanBatches(cards, size, open...) {
			b := PrintBatch{ID: p.TopUp, CardType: p.CardType, AtRisk: p.AtRisk, EarliestDispatchBy: p.EarliestDispatchBy, State: BatchPlanned,
				CreatedBy: actor, Cards: map[CardState]int{CardQueued: p.held + len(p.Cards)}, Added: len(p.Cards)}
			from := ""
			reason := fmt.Sprintf("%d %s cards", len(p.Cards), p.CardType)
			if p.TopUp == 0 {
				if err := tx.QueryRow(ctx, `INSERT INTO print_batches (card_type, earliest_dispatch_by, at_risk, created_by)
					VALUES ($1, $2, $3, $4) RETURNING batch_id, state, created_at, updated_at`,
					string(p.CardType), nullDate(p.EarliestDispatchBy), p.AtRisk, actor).Scan(&b.ID, &b.State, &b.CreatedAt, &b.UpdatedAt); err != nil {
					return fmt.Errorf("record a %s batch: %w", p.CardType, err)
				}
				if p.AtRisk {
					reason += ", orders at risk"
				}
			} else {
				from = string(BatchPlanned)
				reason = fmt.Sprintf("topped up with %d %s cards", len(p.Cards), p.CardType)
				if err := tx.QueryRow(ctx, `UPDATE print_batches SET updated_at = now() WHERE batch_id = $1
					RETURNING created_by, created_at, updated_at`, b.ID).Scan(&b.CreatedBy, &b.CreatedAt, &b.UpdatedAt); err != nil {
					return fmt.Errorf("top up batch %d: %w", b.ID, err)
				}
			}
			numbers := make([]string, len(p.Cards))
			for i, n := range p.Cards {
				numbers[i] = string(n)
			}
			// Positions follow the ones the batch holds (none in a new batch).
			if _, err := tx.Exec(ctx, `UPDATE cards SET batch_id = $1,
					batch_position = t.pos + (SELECT coalesce(max(batch_position), 0) FROM cards WHERE batch_id = $1)
				FROM unnest($2::text[]) WITH ORDINALITY AS t(card_number, pos) WHERE cards.card_number = t.card_number`,
				b.ID, numbers); err != nil {
				return fmt.Errorf("put cards in batch %d: %w", b.ID, err)
			}
			if err := audit(ctx, tx, actor, "batch", strconv.FormatInt(b.ID, 10), from, string(BatchPlanned), reason); err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan print batches: %w", err)
	}
	return out, nil
}

// openBatches finds each card type's last live batch in the order stations take batches and,
// if it is still planned, locks it and returns it with its card count (PlanBatches' open batches).
func openBatches(ctx context.Context, tx pgx.Tx) ([]OpenBatch, error) {
	// The reverse of the claim's order: at_risk DESC, earliest_dispatch_by (NULLs last), batch_id.
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (card_type) batch_id, card_type, state, at_risk, earliest_dispatch_by
		FROM print_batches WHERE state IN ('planned', 'started', 'paused')
		ORDER BY card_type, at_risk, earliest_dispatch_by DESC NULLS FIRST, batch_id DESC`)
	if err != nil {
		return nil, fmt.Errorf("find open batches: %w", err)
	}
	type last struct {
		OpenBatch
		state BatchState
	}
	lasts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (last, error) {
		var l last
		var due *time.Time
		err := r.Scan(&l.ID, &l.CardType, &l.state, &l.AtRisk, &due)
		if due != nil {
			l.EarliestDispatchBy = *due
		}
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("find open batches: %w", err)
	}
	var out []OpenBatch
	for _, l := range lasts {
		if l.state != BatchPlanned {
			continue
		}
		// Locked and looked at again: an operator may have started it since the query. Planning
		// is serialised, so no batch can have been made behind it.
		var state BatchState
		if err := tx.QueryRow(ctx, `SELECT state FROM print_batches WHERE batch_id = $1 FOR UPDATE`, l.ID).Scan(&state); err != nil {
			return nil, fmt.Errorf("lock batch %d: %w", l.ID, err)
		}
		if state != BatchPlanned {
			continue
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM cards WHERE batch_id = $1`, l.ID).Scan(&l.Cards); err != nil {
			return nil, fmt.Errorf("count cards of batch %d: %w", l.ID, err)
		}
		out = append(out, l.OpenBatch)
	}
	return out, nil
}

// ListBatches returns print batches with their cards counted by state, in the order stations take
// them (at risk first, earliest deadline, oldest), closed batches last and only if asked for.
func (s *Store) ListBatches(ctx context.Context, withClosed bool) ([]PrintBatch, error) {
	return s.batches(ctx, "WHERE $1 OR b.state <> 'closed'", withClosed)
}

// Batch returns one print batch with its cards counted by state.
func (s *Store) Batch(ctx context.Context, id int64) (*PrintBatch, error) {
	bs, err := s.batches(ctx, "WHERE b.batch_id = $1", id)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("batch %d: %w", id, ErrNoSuchBatch)
	}
	return &bs[0], nil
}

// ErrNoSuchBatch is a batch id that names no batch.
var ErrNoSuchBatch = errors.New("no such batch")

func (s *Store) batches(ctx context.Context, where string, arg any) ([]PrintBatch, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.batch_id, b.card_type, b.state, b.earliest_dispatch_by, b.at_risk, b.created_at,
		b.updated_at, b.created_by, coalesce(s.states, '{}'), coalesce(s.counts, '{}')
		FROM print_batches b LEFT JOIN LATERAL (SELECT array_agg(state) AS states, array_agg(n) AS counts
			FROM (SELECT state, count(*) AS n FROM cards WHERE cards.batch_id = b.batch_id GROUP BY state) x) s ON true
		`+where+`
		ORDER BY b.state = 'closed', b.at_risk DESC, b.earliest_dispatch_by, b.batch_id`, arg)
	if err != nil {
		return nil, fmt.Errorf("list print batches: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PrintBatch, error) {
		var b PrintBatch
		var due *time.Time
		var states []string
		var counts []int
		if err := r.Scan(&b.ID, &b.CardType, &b.State, &due, &b.AtRisk, &b.CreatedAt, &b.UpdatedAt, &b.CreatedBy, &states, &counts); err != nil {
			return b, fmt.Errorf("list print batches: %w", err)
		}
		if due != nil {
			b.EarliestDispatchBy = *due
		}
		b.Cards = make(map[CardState]int, len(states))
		for i, st := range states {
			b.Cards[CardState(st)] = counts[i]
		}
		return b, nil
	})
}

// StartBatch lets stations take a planned batch's cards.
func (s *Store) StartBatch(ctx context.Context, id int64, actor string) error {
	return s.moveBatch(ctx, id, BatchPlanned, BatchStarted, actor, "")
}

// PauseBatch stops stations taking new cards from a started batch; cards already taken finish.
func (s *Store) PauseBatch(ctx context.Context, id int64, actor, reason string) error {
	return s.moveBatch(ctx, id, BatchStarted, BatchPaused, actor, reason)
}

// ResumeBatch lets stations take a paused batch's cards again.
func (s *Store) ResumeBatch(ctx context.Context, id int64, actor string) error {
	return s.moveBatch(ctx, id, BatchPaused, BatchStarted, actor, "")
}

// moveBatch moves a batch from `from` to `to`: start and resume both lead to started, but each only
// from its own state, so an operator's command means what it says.
func (s *Store) moveBatch(ctx context.Context, id int64, from, to BatchState, actor, reason string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockBatch(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != from {
			return fmt.Errorf("batch %d is %s, not %s", id, cur, from)
		}
		return setBatchState(ctx, tx, id, cur, to, actor, reason)
	})
}

func lockBatch(ctx context.Context, tx pgx.Tx, id int64) (BatchState, error) {
	var st BatchState
	err := tx.QueryRow(ctx, "SELECT state FROM print_batches WHERE batch_id = $1 FOR UPDATE", id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("batch %d: %w", id, ErrNoSuchBatch)
	}
	if err != nil {
		return "", fmt.Errorf("batch %d: read state: %w", id, err)
	}
	return st, nil
}

// setBatchState is the only place a batch's state changes: checked against the table, audited.
func setBatchState(ctx context.Context, tx pgx.Tx, id int64, from, to BatchState, actor, reason string) error {
	if err := from.To(to); err != nil {
		var te *TransitionError
		if errors.As(err, &te) {
			te.ID = strconv.FormatInt(id, 10)
		}
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE print_batches SET state = $2, updated_at = now() WHERE batch_id = $1", id, string(to)); err != nil {
		return fmt.Errorf("batch %d: set state %s: %w", id, to, err)
	}
	return audit(ctx, tx, actor, "batch", strconv.FormatInt(id, 10), string(from), string(to), reason)
}

// An UnfinishedBatchError refuses to close a batch whose cards are not all produced.
type UnfinishedBatchError struct {
	ID         int64
	Unfinished map[CardState]int
}

func (e *UnfinishedBatchError) Error() string {
	var parts []string
	for st, n := range e.Unfinished {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(parts)
	return fmt.Sprintf("batch %d has cards not yet produced (%s): finish them, or close with force to return its queued cards to the pool",
		e.ID, strings.Join(parts, ", "))
}

// CloseResult is what closing a batch did.
type CloseResult struct {
	// Unfinished counts the cards not yet produced when it closed (only a forced close has any).
	Unfinished map[CardState]int
	// Returned are its queued cards, now in no batch: the next plan puts them in a new one.
	Returned []CardNumber
}

// CloseBatch closes a batch. A batch with cards not yet produced (queued, in production, encoded,
// printed or spoiled) is refused with an *UnfinishedBatchError unless force is set. A forced close
// returns the batch's queued cards to the unbatched pool (the next plan batches them anew); cards a
// station holds stay in the closed batch and finish there, and if one of them is spoiled and
// re-queued later, planning takes it from the closed batch into a new one.
func (s *Store) CloseBatch(ctx context.Context, id int64, actor string, force bool, reason string) (*CloseResult, error) {
	res := &CloseResult{Unfinished: map[CardState]int{}}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockBatch(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := cur.To(BatchClosed); err != nil {
			return setBatchState(ctx, tx, id, cur, BatchClosed, actor, reason) // names the batch in the error
		}
		rows, err := tx.Query(ctx, "SELECT state, count(*) FROM cards WHERE batch_id = $1 GROUP BY state", id)
		if err != nil {
			return fmt.Errorf("batch %d: count cards: %w", id, err)
		}
		var st CardState
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&st, &n}, func() error {
			if st.Unfinished() {
				res.Unfinished[st] = n
			}
			return nil
		}); err != nil {
			return fmt.Errorf("batch %d: count cards: %w", id, err)
		}
		if len(res.Unfinished) > 0 && !force {
			return &UnfinishedBatchError{ID: id, Unfinished: res.Unfinished}
		}
		rows, err = tx.Query(ctx, `UPDATE cards SET batch_id = NULL, batch_position = NULL
			WHERE batch_id = $1 AND state = 'queued' RETURNING card_number`, id)
		if err != nil {
			return fmt.Errorf("batch %d: return queued cards: %w", id, err)
		}
		if res.Returned, err = pgx.CollectRows(rows, pgx.RowTo[CardNumber]); err != nil {
			return fmt.Errorf("batch %d: return queued cards: %w", id, err)
		}
		if force && len(res.Unfinished) > 0 {
			r := fmt.Sprintf("forced with cards not produced; %d queued cards returned to the pool", len(res.Returned))
			reason = strings.TrimPrefix(reason+"; "+r, "; ")
		}
		return setBatchState(ctx, tx, id, cur, BatchClosed, actor, reason)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ClaimNextCard takes the next card a station with the given blank stock should make: a queued
// card of a started batch, the batches in priority order (at risk, earliest deadline, oldest) and
// the cards in their batch's order. The row is locked FOR UPDATE SKIP LOCKED in tx, so concurrent
// stations never get the same card and never wait for each other; the caller moves it on
// (TransitionCard to in_production) in the same tx. It returns nil when there is nothing to take,
// else the card and its type. The photo is not loaded (Store.Card has it, with the order's employer).
//
// A claim costs the same with ten or ten thousand cards waiting (sorting the whole queue of every
// started batch took 4 ms a claim at 10,000 cards).
func (s *Store) ClaimNextCard(ctx context.Context, tx pgx.Tx, cardTypes []CardType) (*Card, CardType, error) {
	b := &pgx.Batch{}
	batches := queueClaimBatches(b, cardTypes)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, "", err
	}
	return claimFromBatches(ctx, tx, *batches, cardTypes)
}

// queueClaimBatches queues the first half of a claim in b: the started batches of the card types
// that have a queued card, in the order stations take them. They are few: a started batch stays
// started after its last card is taken, until an operator closes it, and a line may hold
// hundreds of those, so only batches with a queued card are listed.
func queueClaimBatches(b *pgx.Batch, cardTypes []CardType) *[]int64 {
	types := make([]string, len(cardTypes))
	for i, t := range cardTypes {
		types[i] = string(t)
	}
	batches := new([]int64)
	b.Queue(`SELECT b.batch_id FROM print_batches b WHERE b.state = 'started' AND b.card_type = ANY($1)
		AND EXISTS (SELECT 1 FROM cards c WHERE c.batch_id = b.batch_id AND c.state = 'queued')
		ORDER BY b.at_risk DESC, b.earliest_dispatch_by, b.batch_id`, types).Query(func(rows pgx.Rows) error {
		var err error
		if *batches, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("claim next card of %v: %w", types, err)
		}
		return nil
	})
	return batches
}

// claimFromBatches is the second half of a claim: the first free queued card of the first batch
// that has one, through cards_batch_queue: one card locked, whatever the queue's length.
func claimFromBatches(ctx context.Context, tx pgx.Tx, batches []int64, types []CardType) (*Card, CardType, error) {
	var err error
	var c Card
	var ct CardType
	var birth, expiry *time.Time
	var replaces *string
	for _, batch := range batches {
		err = tx.QueryRow(ctx, `SELECT card_number, order_id, holder_key, given_name, family_name, birth_date,
			gender, replaces_card, state, expiry, card_type
			FROM cards WHERE batch_id = $1 AND state = 'queued'
				AND EXISTS (SELECT 1 FROM print_batches WHERE batch_id = $1 AND state = 'started') -- not paused since the list
			ORDER BY batch_position FOR UPDATE SKIP LOCKED LIMIT 1`, batch).
			Scan(&c.Number, &c.OrderID, &c.Holder.Key, &c.Holder.GivenName, &c.Holder.FamilyName, &birth,
				&c.Holder.Gender, &replaces, &c.State, &expiry, &ct)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if len(batches) == 0 || errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("claim next card of %v: %w", types, err)
	}
	if birth != nil {
		c.Holder.BirthDate = *birth
	}
	if expiry != nil {
		c.Expiry = *expiry
	}
	if replaces != nil {
		c.ReplacesCard = CardNumber(*replaces)
	}
	return &c, ct, nil
}
