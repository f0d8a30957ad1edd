package shipping

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/bus"
	"cardline/production"
)

// TopicOrdersDispatched carries OrderDispatched upstream: one event per order per batch handed to
// the post.
const TopicOrdersDispatched = "hms.orders.dispatched.v1"

// ConsumerGroup is the group shipping initialises its topics under.
const ConsumerGroup = "cardline-shipping"

// An OrderDispatchedEvent says that some or all of an order left with a post pickup: which
// envelope carried which card, the accessory parcels, and whether that dispatch met the order's
// deadline. Complete is set when every card of the order (blocked ones aside) has now left; a
// split order gets one event per batch, the last one complete.
type OrderDispatchedEvent struct {
	Type         string               `json:"type"`
	OrderID      string               `json:"order_id"`
	BatchID      string               `json:"batch_id"`
	Envelopes    []DispatchedEnvelope `json:"envelopes"`
	ParcelIDs    []string             `json:"parcel_ids,omitempty"`
	DispatchedAt time.Time            `json:"dispatched_at"`
	DispatchedBy string               `json:"dispatched_by"`
	DispatchBy   string               `json:"dispatch_by"`
	MetDeadline  bool                 `json:"met_deadline"`
	Complete     bool                 `json:"complete"`
}

// A DispatchedEnvelope is one envelope of an OrderDispatchedEvent and the card inside.
type DispatchedEnvelope struct {
	EnvelopeID string `json:"envelope_id"`
	CardNumber string `json:"card_number"`
}

// BatchState is where a shipping batch is: open (being planned, labelled and packed) or
// dispatched (handed to the post; nothing in it changes again).
type BatchState string

// The batch states.
const (
	BatchOpen       BatchState = "open"
	BatchDispatched BatchState = "dispatched"
)

// EnvelopeState is where an envelope is: planned (label made), packed (its card scanned into it),
// dispatched, or void (its card was spoiled before dispatch; the remade card gets a new envelope).
type EnvelopeState string

// The envelope states.
const (
	EnvelopePlanned    EnvelopeState = "planned"
	EnvelopePacked     EnvelopeState = "packed"
	EnvelopeDispatched EnvelopeState = "dispatched"
	EnvelopeVoid       EnvelopeState = "void"
)

// Store is shipping's side of the line's database: it plans from production's orders and cards,
// records batches, envelopes and parcels, and moves cards and orders on dispatch through
// production's transitions (with their audit entries), publishing OrderDispatched in the same
// transaction.
type Store struct {
	pool *pgxpool.Pool
	bus  *bus.Bus
	cal  *production.BusinessDays
}

// NewStore makes the store on the line's pool and bus, with the line's business-day calendar.
func NewStore(pool *pgxpool.Pool, b *bus.Bus, cal *production.BusinessDays) *Store {
	return &Store{pool: pool, bus: b, cal: cal}
}

// Schedule is the post's pickup schedule on the line's calendar: pickup and cut-off after local
// midnight in Oslo, on Norwegian business days.
func (s *Store) Schedule(pickupAt, cutOff time.Duration) Schedule {
	return Schedule{Zone: s.cal.Zone(), PickupAt: pickupAt, CutOff: cutOff, IsBusinessDay: s.cal.IsBusinessDay}
}

// planLock serialises planning: two `ship plan` runs at once would both see a card unplanned.
const planLock = 0x73686970706c616e // "shipplan"

// A PlanResult is what PlanPickup did: the plan, how many envelopes and parcels it recorded anew
// (0 on a re-run that found nothing changed), and the envelopes it voided because their cards
// are no longer produced (spoiled or blocked since they were planned).
type PlanResult struct {
	PackingPlan
	NewEnvelopes, NewParcels int
	Voided                   []EnvelopeID
	// Elsewhere counts the envelopes and parcels already in other open batches, by batch: they
	// are not part of this plan.
	Elsewhere map[BatchID]int
	// TakenOut are the envelopes and parcels this batch held before and no longer does (their
	// order is held back now): to be taken out of the batch's tray.
	TakenOut []string
}

// PlanPickup plans the next pickup after now from the store and records it. It is idempotent: a
// second run with nothing changed records nothing new, and a card keeps its envelope id (and
// printed label) from run to run. An envelope or parcel already in another open batch stays
// there (it may be packed in that batch's tray; a batch whose pickup passed is dispatched late,
// and its met_deadline says so): planning tomorrow after today's cut-off never takes today's
// batch apart. An envelope of this batch whose order is now held is taken out of it (it waits,
// label and all, for a later pickup). A dispatched batch is never planned again: the plan is for
// the pickup after it.
func (s *Store) PlanPickup(ctx context.Context, now time.Time, sched Schedule) (*PlanResult, error) {
	var res *PlanResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(planLock)); err != nil {
			return fmt.Errorf("take planning lock: %w", err)
		}
		// The next pickup whose batch has not left: once a batch is handed to the post, that
		// pickup is over, whatever the clock says.
		var batchID BatchID
		left := true
		for i := 0; i < 10 && left; i++ {
			pickup, cutOff, err := sched.NextPickup(now)
			if err != nil {
				return err
			}
			batchID = NewBatchID(pickup)
			var state BatchState
			// Locked, so that a dispatch of this batch waits for the plan or the plan sees it.
			err = tx.QueryRow(ctx, "SELECT state FROM shipping_batches WHERE batch_id = $1 FOR UPDATE", string(batchID)).Scan(&state)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("look up batch %s: %w", batchID, err)
			}
			if left = state == BatchDispatched; left {
				now = cutOff // plan as if at that cut-off: the pickup after it
			}
		}
		if left {
			return fmt.Errorf("the next 10 pickups' batches were all dispatched already, up to %s", batchID)
		}
		voided, err := voidStale(ctx, tx)
		if err != nil {
			return err
		}
		orders, elsewhere, err := ordersToShip(ctx, tx, batchID, sched.Zone)
		if err != nil {
			return err
		}
		plan, err := Plan(orders, now, sched)
		if err != nil {
			return err
		}
		if plan.Batch.ID != batchID {
			return fmt.Errorf("plan made batch %s for pickup batch %s", plan.Batch.ID, batchID) // NextPickup is deterministic
		}
		res = &PlanResult{PackingPlan: plan, Voided: voided, Elsewhere: elsewhere}
		return recordPlan(ctx, tx, res)
	})
	if err != nil {
		return nil, fmt.Errorf("plan pickup: %w", err)
	}
	return res, nil
}

// voidStale voids the live envelopes whose card is no longer produced: a card spoiled at packing
// (or blocked) must not go out in an envelope whose label was made for it, and the remade card
// gets the next label sequence.
func voidStale(ctx context.Context, tx pgx.Tx) ([]EnvelopeID, error) {
	rows, err := tx.Query(ctx, `UPDATE envelopes e SET state = 'void', batch_id = NULL, void_reason = 'card ' || c.state || ' after its label was made'
		FROM cards c WHERE c.card_number = e.card_number AND e.state IN ('planned', 'packed') AND c.state <> 'produced'
		RETURNING e.envelope_id`)
	if err != nil {
		return nil, fmt.Errorf("void envelopes of cards no longer produced: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[EnvelopeID])
	if err != nil {
		return nil, fmt.Errorf("void envelopes of cards no longer produced: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// storedAddress is the delivery_address column as production writes it.
type storedAddress struct {
	Name       string `json:"name"`
	Attention  string `json:"attention"`
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Country    string `json:"country"`
}

func (a storedAddress) address() Address {
	return Address{Name: a.Name, Attention: a.Attention, Street: a.Street, PostalCode: a.PostalCode, City: a.City, Country: a.Country}
}

// ordersToShip maps production's orders that have a produced card onto OrderToShip, for the batch
// batch. A card's Labels and an order's ParcelLabels are the highest voided sequence, so that the
// live envelope keeps its id on every run and a relabelled card gets the next one. A card whose
// envelope is in another open batch counts as on its way (CardDispatched: neither packed nor waited
// for), and so do accessories whose parcel is; elsewhere counts them by batch.
func ordersToShip(ctx context.Context, tx pgx.Tx, batch BatchID, zone *time.Location) ([]OrderToShip, map[BatchID]int, error) {
	elsewhere := map[BatchID]int{}
	rows, err := tx.Query(ctx, `SELECT o.order_id, o.dispatch_by, o.delivery_address, o.accessories,
			EXISTS (SELECT 1 FROM parcels p WHERE p.order_id = o.order_id AND p.state = 'dispatched'),
			(SELECT p.batch_id FROM parcels p WHERE p.order_id = o.order_id AND p.state = 'planned'
				AND p.batch_id IS NOT NULL AND p.batch_id <> $1),
			coalesce((SELECT max(label_seq) FROM parcels p WHERE p.order_id = o.order_id AND p.state = 'void'), 0)
		FROM orders o
		WHERE o.state IN ('accepted', 'in_production', 'produced')
		  AND EXISTS (SELECT 1 FROM cards c WHERE c.order_id = o.order_id AND c.state = 'produced')
		ORDER BY o.order_id`, string(batch))
	if err != nil {
		return nil, nil, fmt.Errorf("load orders to ship: %w", err)
	}
	var out []OrderToShip
	index := map[string]int{}
	var ids []string
	for rows.Next() {
		var o OrderToShip
		var addr storedAddress
		var acc []Accessory
		var parcelSent bool
		var parcelIn *BatchID // the other open batch the parcel is in
		var deadline time.Time
		var rawAddr, rawAcc []byte
		if err := rows.Scan(&o.OrderID, &deadline, &rawAddr, &rawAcc, &parcelSent, &parcelIn, &o.ParcelLabels); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("load orders to ship: %w", err)
		}
		if err := json.Unmarshal(rawAddr, &addr); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("order %s: decode delivery address: %w", o.OrderID, err)
		}
		if err := json.Unmarshal(rawAcc, &acc); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("order %s: decode accessories: %w", o.OrderID, err)
		}
		o.Address = addr.address()
		y, m, d := deadline.Date()
		o.Deadline = time.Date(y, m, d, 0, 0, 0, 0, zone)
		switch {
		case parcelIn != nil:
			elsewhere[*parcelIn]++
		case !parcelSent:
			o.Accessories = acc
		}
		index[o.OrderID] = len(out)
		ids = append(ids, o.OrderID)
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load orders to ship: %w", err)
	}
	if len(ids) == 0 {
		return nil, elsewhere, nil
	}
	rows, err = tx.Query(ctx, `SELECT c.order_id, c.card_number, c.state,
			coalesce((SELECT max(label_seq) FROM envelopes e WHERE e.card_number = c.card_number AND e.state = 'void'), 0),
			(SELECT e.batch_id FROM envelopes e WHERE e.card_number = c.card_number AND e.state IN ('planned', 'packed')
				AND e.batch_id IS NOT NULL AND e.batch_id <> $2)
		FROM cards c WHERE c.order_id = ANY($1) ORDER BY c.order_id, c.card_number`, ids, string(batch))
	if err != nil {
		return nil, nil, fmt.Errorf("load cards to ship: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var orderID, state string
		var c CardToShip
		var in *BatchID
		if err := rows.Scan(&orderID, &c.Number, &state, &c.Labels, &in); err != nil {
			return nil, nil, fmt.Errorf("load cards to ship: %w", err)
		}
		if c.State, err = ParseCardState(state); err != nil {
			c.State = CardState(state) // Plan holds the order with the reason
		}
		if in != nil {
			c.State = CardDispatched
			elsewhere[*in]++
		}
		o := &out[index[orderID]]
		o.Cards = append(o.Cards, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load cards to ship: %w", err)
	}
	return out, elsewhere, nil
}

// recordPlan upserts the batch, its envelopes and parcels, and takes out of the batch what the plan
// no longer sends.
func recordPlan(ctx context.Context, tx pgx.Tx, res *PlanResult) error {
	b := res.Batch
	if len(b.Envelopes)+len(b.Parcels) == 0 {
		// Nothing to send: no batch row is made, and anything this batch held waits for a later one.
		taken, err := takeOut(ctx, tx, b.ID, nil, nil)
		res.TakenOut = taken
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO shipping_batches (batch_id, pickup_at, cut_off_at) VALUES ($1, $2, $3)
		ON CONFLICT (batch_id) DO UPDATE SET planned_at = now()`, string(b.ID), b.Pickup, b.CutOff); err != nil {
		return fmt.Errorf("record batch %s: %w", b.ID, err)
	}
	envIDs := make([]string, len(b.Envelopes))
	for i, e := range b.Envelopes {
		envIDs[i] = string(e.ID)
		seq := labelSeq(string(e.ID))
		var inserted bool
		err := tx.QueryRow(ctx, `INSERT INTO envelopes (envelope_id, card_number, order_id, batch_id, label_seq, card_index, card_of, late)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (envelope_id) DO UPDATE SET batch_id = EXCLUDED.batch_id, card_index = EXCLUDED.card_index,
				card_of = EXCLUDED.card_of, late = EXCLUDED.late
			WHERE envelopes.state IN ('planned', 'packed') AND (envelopes.batch_id IS NULL OR envelopes.batch_id = EXCLUDED.batch_id)
			RETURNING xmax = 0`, string(e.ID), e.CardNumber, e.OrderID, string(b.ID), seq, e.Index, e.Of, e.Late).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("envelope %s: dispatched, void or in another batch: not planned into %s", e.ID, b.ID)
		}
		if err != nil {
			return fmt.Errorf("record envelope %s: %w", e.ID, err)
		}
		if inserted {
			res.NewEnvelopes++
		}
	}
	parcelIDs := make([]string, len(b.Parcels))
	for i, p := range b.Parcels {
		parcelIDs[i] = string(p.ID)
		items, err := json.Marshal(p.Items)
		if err != nil {
			return err
		}
		var inserted bool
		err = tx.QueryRow(ctx, `INSERT INTO parcels (parcel_id, order_id, batch_id, label_seq, contents, late)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (parcel_id) DO UPDATE SET batch_id = EXCLUDED.batch_id, contents = EXCLUDED.contents, late = EXCLUDED.late
			WHERE parcels.state = 'planned' AND (parcels.batch_id IS NULL OR parcels.batch_id = EXCLUDED.batch_id)
			RETURNING xmax = 0`, string(p.ID), p.OrderID, string(b.ID), labelSeq(string(p.ID)), items, p.Late).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("parcel %s: dispatched, void or in another batch: not planned into %s", p.ID, b.ID)
		}
		if err != nil {
			return fmt.Errorf("record parcel %s: %w", p.ID, err)
		}
		if inserted {
			res.NewParcels++
		}
	}
	// What this batch held before but the plan no longer sends waits for a later pickup.
	taken, err := takeOut(ctx, tx, b.ID, envIDs, parcelIDs)
	if err != nil {
		return err
	}
	res.TakenOut = taken
	return nil
}

// takeOut takes the live envelopes and parcels of batch that are not in keep out of it, and
// returns their ids: the packer must take them out of the batch's tray.
func takeOut(ctx context.Context, tx pgx.Tx, batch BatchID, keepEnvelopes, keepParcels []string) ([]string, error) {
	var out []string
	for _, q := range []struct {
		sql  string
		keep []string
	}{
		{`UPDATE envelopes SET batch_id = NULL WHERE batch_id = $1 AND state IN ('planned', 'packed')
			AND NOT (envelope_id = ANY(coalesce($2, ARRAY[]::text[]))) RETURNING envelope_id`, keepEnvelopes},
		{`UPDATE parcels SET batch_id = NULL WHERE batch_id = $1 AND state = 'planned'
			AND NOT (parcel_id = ANY(coalesce($2, ARRAY[]::text[]))) RETURNING parcel_id`, keepParcels},
	} {
		rows, err := tx.Query(ctx, q.sql, string(batch), q.keep)
		if err != nil {
			return nil, fmt.Errorf("take held items out of batch %s: %w", batch, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("take held items out of batch %s: %w", batch, err)
		}
		out = append(out, ids...)
	}
	slices.Sort(out)
	return out, nil
}

// labelSeq is the 2-digit sequence at the end of an envelope or parcel id (made by Plan: valid).
func labelSeq(id string) int { return int(id[11]-'0')*10 + int(id[12]-'0') }

// A StoredBatch is a batch as recorded: its envelopes and parcels (void ones left out) in packing
// order, with where each stands and how often its label was printed.
type StoredBatch struct {
	Batch
	State          BatchState
	DispatchedAt   *time.Time
	DispatchedBy   string
	EnvelopeStates map[EnvelopeID]EnvelopeState
	// LabelsPrinted counts prints of each envelope's and parcel's label, by id.
	LabelsPrinted map[string]int
}

// Packed counts the batch's envelopes packed (or dispatched).
func (b *StoredBatch) Packed() int {
	n := 0
	for _, st := range b.EnvelopeStates {
		if st == EnvelopePacked || st == EnvelopeDispatched {
			n++
		}
	}
	return n
}

// ErrNoBatch is returned for a batch id that was never planned.
var ErrNoBatch = errors.New("no such batch")

// LoadBatch reads a recorded batch.
func (s *Store) LoadBatch(ctx context.Context, id BatchID) (*StoredBatch, error) {
	b := &StoredBatch{Batch: Batch{ID: id}, EnvelopeStates: map[EnvelopeID]EnvelopeState{}, LabelsPrinted: map[string]int{}}
	var by *string
	err := s.pool.QueryRow(ctx, `SELECT pickup_at, cut_off_at, state, dispatched_at, dispatched_by FROM shipping_batches WHERE batch_id = $1`,
		string(id)).Scan(&b.Pickup, &b.CutOff, &b.State, &b.DispatchedAt, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("batch %s: %w (ship plan makes batches; ship list shows them)", id, ErrNoBatch)
	}
	if err != nil {
		return nil, fmt.Errorf("load batch %s: %w", id, err)
	}
	if by != nil {
		b.DispatchedBy = *by
	}
	zone := s.cal.Zone()
	b.Pickup, b.CutOff = b.Pickup.In(zone), b.CutOff.In(zone)
	rows, err := s.pool.Query(ctx, `SELECT e.envelope_id, e.card_number, e.order_id, e.card_index, e.card_of, e.late, e.state,
			e.labels_printed, o.delivery_address, o.dispatch_by
		FROM envelopes e JOIN orders o USING (order_id) WHERE e.batch_id = $1 AND e.state <> 'void'`, string(id))
	if err != nil {
		return nil, fmt.Errorf("load envelopes of batch %s: %w", id, err)
	}
	for rows.Next() {
		var e Envelope
		var st EnvelopeState
		var printed int
		var raw []byte
		var addr storedAddress
		if err := rows.Scan(&e.ID, &e.CardNumber, &e.OrderID, &e.Index, &e.Of, &e.Late, &st, &printed, &raw, &e.Deadline); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load envelopes of batch %s: %w", id, err)
		}
		if err := json.Unmarshal(raw, &addr); err != nil {
			rows.Close()
			return nil, fmt.Errorf("order %s: decode delivery address: %w", e.OrderID, err)
		}
		e.To = addr.address()
		b.Envelopes = append(b.Envelopes, e)
		b.EnvelopeStates[e.ID] = st
		b.LabelsPrinted[string(e.ID)] = printed
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load envelopes of batch %s: %w", id, err)
	}
	rows, err = s.pool.Query(ctx, `SELECT p.parcel_id, p.order_id, p.contents, p.late, p.labels_printed, o.delivery_address, o.dispatch_by
		FROM parcels p JOIN orders o USING (order_id) WHERE p.batch_id = $1 AND p.state <> 'void'`, string(id))
	if err != nil {
		return nil, fmt.Errorf("load parcels of batch %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Parcel
		var printed int
		var rawItems, rawAddr []byte
		var addr storedAddress
		if err := rows.Scan(&p.ID, &p.OrderID, &rawItems, &p.Late, &printed, &rawAddr, &p.Deadline); err != nil {
			return nil, fmt.Errorf("load parcels of batch %s: %w", id, err)
		}
		if err := json.Unmarshal(rawItems, &p.Items); err != nil {
			return nil, fmt.Errorf("parcel %s: decode contents: %w", p.ID, err)
		}
		if err := json.Unmarshal(rawAddr, &addr); err != nil {
			return nil, fmt.Errorf("order %s: decode delivery address: %w", p.OrderID, err)
		}
		p.To = addr.address()
		b.Parcels = append(b.Parcels, p)
		b.LabelsPrinted[string(p.ID)] = printed
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load parcels of batch %s: %w", id, err)
	}
	sortBatch(&b.Batch)
	return b, nil
}

// sortBatch puts a batch in packing order, as Plan does: postal code, then order, then card.
func sortBatch(b *Batch) {
	slices.SortFunc(b.Envelopes, func(x, y Envelope) int {
		return cmp.Or(cmp.Compare(x.To.PostalCode, y.To.PostalCode), cmp.Compare(x.OrderID, y.OrderID), cmp.Compare(x.CardNumber, y.CardNumber))
	})
	slices.SortFunc(b.Parcels, func(x, y Parcel) int {
		return cmp.Or(cmp.Compare(x.To.PostalCode, y.To.PostalCode), cmp.Compare(x.OrderID, y.OrderID))
	})
}

// A BatchSummary is one line of the batch list.
type BatchSummary struct {
	ID                         BatchID
	Pickup                     time.Time
	State                      BatchState
	Envelopes, Packed, Parcels int
	DispatchedAt               *time.Time
}

// ListBatches lists batches, latest pickup first.
func (s *Store) ListBatches(ctx context.Context, limit int) ([]BatchSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.batch_id, b.pickup_at, b.state,
			(SELECT count(*) FROM envelopes e WHERE e.batch_id = b.batch_id AND e.state <> 'void'),
			(SELECT count(*) FROM envelopes e WHERE e.batch_id = b.batch_id AND e.state IN ('packed', 'dispatched')),
			(SELECT count(*) FROM parcels p WHERE p.batch_id = b.batch_id AND p.state <> 'void'),
			b.dispatched_at
		FROM shipping_batches b ORDER BY b.pickup_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []BatchSummary
	for rows.Next() {
		var b BatchSummary
		if err := rows.Scan(&b.ID, &b.Pickup, &b.State, &b.Envelopes, &b.Packed, &b.Parcels, &b.DispatchedAt); err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		b.Pickup = b.Pickup.In(s.cal.Zone())
		out = append(out, b)
	}
	return out, rows.Err()
}

// RecordLabelsPrinted counts one print of each of the printed labels of an open batch (call it
// once they are written or printed) and returns the ids printed before, so that reprints are
// visible. Only the labels given count: a plan between loading the batch and this record may have
// added an envelope whose label was not among them, or taken one out.
func (s *Store) RecordLabelsPrinted(ctx context.Context, id BatchID, printed []Label) (reprinted []string, err error) {
	var envelopes, parcels []string
	for _, l := range printed {
		if l.Kind == ParcelLabel {
			parcels = append(parcels, l.ID)
		} else {
			envelopes = append(envelopes, l.ID)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state BatchState
		if err := tx.QueryRow(ctx, "SELECT state FROM shipping_batches WHERE batch_id = $1 FOR UPDATE", string(id)).Scan(&state); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("batch %s: %w", id, ErrNoBatch)
			}
			return err
		}
		if state != BatchOpen {
			return fmt.Errorf("batch %s is %s: its labels are not printed again", id, state)
		}
		for _, q := range []struct {
			sql string
			ids []string
		}{
			{`UPDATE envelopes SET labels_printed = labels_printed + 1, last_printed_at = now()
				WHERE batch_id = $1 AND envelope_id = ANY($2) AND state IN ('planned', 'packed') RETURNING envelope_id, labels_printed`, envelopes},
			{`UPDATE parcels SET labels_printed = labels_printed + 1, last_printed_at = now()
				WHERE batch_id = $1 AND parcel_id = ANY($2) AND state = 'planned' RETURNING parcel_id, labels_printed`, parcels},
		} {
			rows, err := tx.Query(ctx, q.sql, string(id), q.ids)
			if err != nil {
				return fmt.Errorf("record labels of batch %s printed: %w", id, err)
			}
			for rows.Next() {
				var lid string
				var n int
				if err := rows.Scan(&lid, &n); err != nil {
					rows.Close()
					return fmt.Errorf("record labels of batch %s printed: %w", id, err)
				}
				if n > 1 {
					reprinted = append(reprinted, lid)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("record labels of batch %s printed: %w", id, err)
			}
		}
		return nil
	})
	slices.Sort(reprinted)
	return reprinted, err
}

// Pack records that the envelope's card went in: the envelope's barcode and the card's scan (its
// QR code, or chip UID) must name the same card (MatchEnvelope), the envelope must be live in an
// open batch, and the card still produced. A wrong card is a *MismatchError and nothing is
// recorded. Packing a packed envelope again changes nothing (already is true).
func (s *Store) Pack(ctx context.Context, envelope, scan string, cards CardIdentifier, by string) (card string, already bool, err error) {
	card, err = MatchEnvelope(ctx, envelope, scan, cards)
	if err != nil {
		return "", false, err
	}
	id := EnvelopeID(strings.TrimSpace(envelope))
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var st EnvelopeState
		var batch, voidReason *string
		var batchState *BatchState
		var cardState string
		err := tx.QueryRow(ctx, `SELECT e.state, e.batch_id, e.void_reason, b.state, c.state
			FROM envelopes e JOIN cards c USING (card_number) LEFT JOIN shipping_batches b ON b.batch_id = e.batch_id
			WHERE e.envelope_id = $1 FOR UPDATE OF e`, string(id)).Scan(&st, &batch, &voidReason, &batchState, &cardState)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("envelope %s was never planned: is the label from `ship labels` of a current batch?", id)
		}
		if err != nil {
			return fmt.Errorf("look up envelope %s: %w", id, err)
		}
		switch {
		case st == EnvelopeVoid:
			return fmt.Errorf("envelope %s is VOID (%s): throw its label away; the card gets a new label with the next batch", id, deref(voidReason))
		case st == EnvelopeDispatched:
			return fmt.Errorf("envelope %s was dispatched already", id)
		case cardState != string(production.CardProduced):
			return fmt.Errorf("card %s is %s, not produced: do not pack it (the next `ship plan` voids this envelope)", card, cardState)
		case batchState != nil && *batchState == BatchDispatched:
			return fmt.Errorf("envelope %s: its batch was dispatched already", id)
		case batch == nil:
			return fmt.Errorf("envelope %s is in no batch (its order is held): do not pack it yet; `ship plan` lists why", id)
		case st == EnvelopePacked:
			already = true
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE envelopes SET state = 'packed', packed_at = now(), packed_by = $2, packed_scan = $3
			WHERE envelope_id = $1`, string(id), by, strings.TrimSpace(scan)); err != nil {
			return fmt.Errorf("record envelope %s packed: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("pack envelope: %w", err)
	}
	return card, already, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A DispatchResult is what Dispatch did, or (Already set) what an earlier dispatch of the batch
// did: nothing changes the second time.
type DispatchResult struct {
	Batch        BatchID
	Already      bool
	DispatchedAt time.Time
	DispatchedBy string
	Orders       []OrderDispatchedEvent
	// Dropped are the unpacked envelopes taken out of the batch (with dropUnpacked): they wait
	// for the next pickup.
	Dropped []EnvelopeID
}

// Dispatch records a batch as handed to the post at `at` by `by`: each packed envelope and each
// parcel dispatched, each card dispatched (production.TransitionCard, audited), each order whose
// cards have all left dispatched (through the order states it has not passed yet, each audited),
// whether every order met its deadline (the dispatch date in Oslo not after dispatch_by), and one
// OrderDispatched per order upstream, all in one transaction. An envelope not yet packed (its card
// never scanned into it) stops the dispatch, naming it, unless dropUnpacked takes it out of the
// batch for a later pickup. Dispatching a dispatched batch changes nothing.
func (s *Store) Dispatch(ctx context.Context, id BatchID, at time.Time, by string, dropUnpacked bool) (*DispatchResult, error) {
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("dispatch: who hands the batch over must be named")
	}
	if err := s.bus.InitTopics(ctx, ConsumerGroup, TopicOrdersDispatched); err != nil {
		return nil, fmt.Errorf("dispatch %s: %w", id, err)
	}
	res := &DispatchResult{Batch: id}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state BatchState
		var doneAt *time.Time
		var doneBy *string
		err := tx.QueryRow(ctx, "SELECT state, dispatched_at, dispatched_by FROM shipping_batches WHERE batch_id = $1 FOR UPDATE",
			string(id)).Scan(&state, &doneAt, &doneBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("batch %s: %w", id, ErrNoBatch)
		}
		if err != nil {
			return fmt.Errorf("look up batch %s: %w", id, err)
		}
		if state == BatchDispatched {
			res.Already, res.DispatchedAt, res.DispatchedBy = true, *doneAt, deref(doneBy)
			return nil
		}
		res.DispatchedAt, res.DispatchedBy = at, by
		// Locked, so that a scan landing meanwhile either packs the envelope before this looks
		// (it goes, packed) or waits and finds it out of the batch (it stays): never dispatched
		// while reported left behind.
		rows, err := tx.Query(ctx, `SELECT envelope_id FROM envelopes WHERE batch_id = $1 AND state = 'planned'
			ORDER BY envelope_id FOR UPDATE`, string(id))
		if err != nil {
			return fmt.Errorf("look up unpacked envelopes: %w", err)
		}
		unpacked, err := pgx.CollectRows(rows, pgx.RowTo[EnvelopeID])
		if err != nil {
			return fmt.Errorf("look up unpacked envelopes: %w", err)
		}
		if len(unpacked) > 0 {
			if !dropUnpacked {
				return fmt.Errorf("%d envelope(s) not packed (their cards never scanned in): %s; scan them with `ship scan`, or dispatch without them (--drop-unpacked)",
					len(unpacked), joinIDs(unpacked))
			}
			if _, err := tx.Exec(ctx, `UPDATE envelopes SET batch_id = NULL WHERE batch_id = $1 AND state = 'planned'`, string(id)); err != nil {
				return fmt.Errorf("take unpacked envelopes out: %w", err)
			}
			res.Dropped = unpacked
		}
		events := map[string]*OrderDispatchedEvent{}
		order := func(orderID string) *OrderDispatchedEvent {
			if e, ok := events[orderID]; ok {
				return e
			}
			e := &OrderDispatchedEvent{Type: "OrderDispatched", OrderID: orderID, BatchID: string(id), DispatchedAt: at, DispatchedBy: by}
			events[orderID] = e
			return e
		}
		rows, err = tx.Query(ctx, `UPDATE envelopes SET state = 'dispatched', dispatched_at = $2
			WHERE batch_id = $1 AND state = 'packed' RETURNING envelope_id, card_number, order_id`, string(id), at)
		if err != nil {
			return fmt.Errorf("record envelopes dispatched: %w", err)
		}
		type env struct{ id, card, order string }
		envs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (env, error) {
			var e env
			return e, r.Scan(&e.id, &e.card, &e.order)
		})
		if err != nil {
			return fmt.Errorf("record envelopes dispatched: %w", err)
		}
		slices.SortFunc(envs, func(a, b env) int { return cmp.Compare(a.id, b.id) })
		for _, e := range envs {
			if _, err := production.TransitionCard(ctx, tx, production.CardNumber(e.card), production.CardDispatched, by,
				fmt.Sprintf("envelope %s handed to the post in batch %s", e.id, id)); err != nil {
				var te *production.TransitionError
				if errors.As(err, &te) {
					return fmt.Errorf("envelope %s: %w; run `ship plan`, which voids the envelope and takes it out of the batch, then dispatch again", e.id, err)
				}
				return err
			}
			o := order(e.order)
			o.Envelopes = append(o.Envelopes, DispatchedEnvelope{EnvelopeID: e.id, CardNumber: e.card})
		}
		rows, err = tx.Query(ctx, `UPDATE parcels SET state = 'dispatched', dispatched_at = $2
			WHERE batch_id = $1 AND state = 'planned' RETURNING parcel_id, order_id`, string(id), at)
		if err != nil {
			return fmt.Errorf("record parcels dispatched: %w", err)
		}
		parcels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var p [2]string
			return p, r.Scan(&p[0], &p[1])
		})
		if err != nil {
			return fmt.Errorf("record parcels dispatched: %w", err)
		}
		slices.SortFunc(parcels, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
		for _, p := range parcels {
			o := order(p[1])
			o.ParcelIDs = append(o.ParcelIDs, p[0])
		}
		if len(events) == 0 {
			return fmt.Errorf("batch %s holds nothing to dispatch", id)
		}
		day := at.In(s.cal.Zone()).Format(time.DateOnly)
		for _, orderID := range slices.Sorted(maps.Keys(events)) {
			ev := events[orderID]
			if err := s.dispatchOrder(ctx, tx, ev, day); err != nil {
				return err
			}
			res.Orders = append(res.Orders, *ev)
		}
		msgs := make([]*message.Message, len(res.Orders))
		for i, ev := range res.Orders {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			msgs[i] = message.NewMessage(watermill.NewUUID(), b)
			msgs[i].Metadata.Set("order_id", ev.OrderID)
		}
		if err := s.bus.PublishTx(ctx, tx, TopicOrdersDispatched, msgs...); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE shipping_batches SET state = 'dispatched', dispatched_at = $2, dispatched_by = $3 WHERE batch_id = $1`,
			string(id), at, by); err != nil {
			return fmt.Errorf("record batch dispatched: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dispatch batch %s: %w", id, err)
	}
	return res, nil
}

// dispatchOrder records what one dispatch did for its order: the deadline met or not, complete or
// not, and, when complete, the order moved to dispatched. An order the stations never moved to
// produced (its last card remade, say) is walked through the states it skipped, each transition
// audited, rather than jumping the state table.
func (s *Store) dispatchOrder(ctx context.Context, tx pgx.Tx, ev *OrderDispatchedEvent, day string) error {
	var deadline time.Time
	var state production.OrderState
	var outstanding int
	err := tx.QueryRow(ctx, `SELECT o.dispatch_by, o.state,
			(SELECT count(*) FROM cards c WHERE c.order_id = o.order_id AND c.state NOT IN ('dispatched', 'blocked'))
		FROM orders o WHERE o.order_id = $1`, ev.OrderID).Scan(&deadline, &state, &outstanding)
	if err != nil {
		return fmt.Errorf("order %s: look up deadline: %w", ev.OrderID, err)
	}
	ev.DispatchBy = deadline.Format(time.DateOnly)
	ev.MetDeadline = day <= ev.DispatchBy // ISO dates compare as strings
	ev.Complete = outstanding == 0
	if ev.Complete {
		path := map[production.OrderState][]production.OrderState{
			production.OrderAccepted:     {production.OrderInProduction, production.OrderProduced, production.OrderDispatched},
			production.OrderInProduction: {production.OrderProduced, production.OrderDispatched},
			production.OrderProduced:     {production.OrderDispatched},
		}[state]
		if path == nil {
			return fmt.Errorf("order %s is %s: its cards cannot be dispatched", ev.OrderID, state)
		}
		for _, to := range path {
			reason := fmt.Sprintf("every card has left (batch %s)", ev.BatchID)
			if to != production.OrderDispatched {
				reason = fmt.Sprintf("every card produced; recorded at dispatch of batch %s", ev.BatchID)
			}
			if err := production.TransitionOrder(ctx, tx, ev.OrderID, to, ev.DispatchedBy, reason); err != nil {
				return err
			}
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO order_dispatch (order_id, batch_id, dispatched_at, dispatched_by, dispatch_by, met_deadline, complete)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ev.OrderID, ev.BatchID, ev.DispatchedAt, ev.DispatchedBy, ev.DispatchBy, ev.MetDeadline, ev.Complete); err != nil {
		return fmt.Errorf("order %s: record dispatch: %w", ev.OrderID, err)
	}
	return nil
}

func joinIDs[T ~string](ids []T) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// Letters are the carrier letters of a batch's live envelopes, in packing order.
func (s *Store) Letters(ctx context.Context, id BatchID) ([]Letter, error) {
	rows, err := s.pool.Query(ctx, `SELECT e.envelope_id, e.card_number, e.order_id, e.card_index, e.card_of,
			c.given_name || ' ' || c.family_name, coalesce(o.company_name, ''), o.delivery_address
		FROM envelopes e JOIN cards c USING (card_number) JOIN orders o ON o.order_id = e.order_id
		WHERE e.batch_id = $1 AND e.state <> 'void'`, string(id))
	if err != nil {
		return nil, fmt.Errorf("load letters of batch %s: %w", id, err)
	}
	defer rows.Close()
	var out []Letter
	for rows.Next() {
		var lt Letter
		var raw []byte
		var addr storedAddress
		if err := rows.Scan(&lt.Envelope, &lt.CardNumber, &lt.OrderID, &lt.Index, &lt.Of, &lt.HolderName, &lt.Company, &raw); err != nil {
			return nil, fmt.Errorf("load letters of batch %s: %w", id, err)
		}
		if err := json.Unmarshal(raw, &addr); err != nil {
			return nil, fmt.Errorf("order %s: decode delivery address: %w", lt.OrderID, err)
		}
		lt.To = addr.address()
		out = append(out, lt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load letters of batch %s: %w", id, err)
	}
	slices.SortFunc(out, func(x, y Letter) int {
		return cmp.Or(cmp.Compare(x.To.PostalCode, y.To.PostalCode), cmp.Compare(x.OrderID, y.OrderID), cmp.Compare(x.CardNumber, y.CardNumber))
	})
	return out, nil
}
