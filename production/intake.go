package production

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"cardline/internal/bus"
)

// Intake turns OrderApproved messages into stored orders and cards, or stored rejections, and
// publishes what happened, all in the transaction that commits the message's offset. A replayed
// message changes nothing; a message reusing an order id with other content is recorded as a
// conflict and the first order stands.
type Intake struct {
	Bus       *bus.Bus
	Validator *Validator
	Log       *slog.Logger
	// Now is the clock for event times; the Validator has its own for the rules.
	Now func() time.Time
	// Ahead, if set and running, validates waiting messages in parallel (see Prevalidator).
	Ahead *Prevalidator
}

// Actor is how intake signs its audit entries.
const intakeActor = "intake"

// Outcome is what intake did with one message.
type Outcome string

// Outcomes of intake, for logs and tests.
const (
	OutcomeAccepted   Outcome = "accepted"
	OutcomeRejected   Outcome = "rejected"
	OutcomeUnreadable Outcome = "unreadable"
	OutcomeReplay     Outcome = "replay"
	OutcomeConflict   Outcome = "conflict"
)

// Handle is the watermill handler. It writes in bus.Tx: a savepoint of the subscriber's
// transaction, so its effects commit with the message's offset or not at all.
func (in *Intake) Handle(msg *message.Message) error {
	ctx := msg.Context()
	tx, err := bus.Tx(ctx)
	if err != nil {
		return err
	}
	outcome, orderID, err := in.Process(ctx, tx, msg.UUID, msg.Payload)
	if err != nil {
		return fmt.Errorf("intake message %s: %w", msg.UUID, err)
	}
	// The message holds national ids in clear: once its effects are stored, it goes.
	if _, err := tx.Exec(ctx, "DELETE FROM "+bus.Table(TopicOrdersApproved)+" WHERE uuid = $1", msg.UUID); err != nil {
		return fmt.Errorf("intake message %s: delete handled message: %w", msg.UUID, err)
	}
	in.Log.Info("intake", "message", msg.UUID, "order", orderID, "outcome", outcome)
	return nil
}

// Process handles one message's payload inside tx.
func (in *Intake) Process(ctx context.Context, tx pgx.Tx, messageUUID string, payload []byte) (Outcome, string, error) {
	sum := sha256.Sum256(payload)
	digest := sum[:]
	now := in.Now()

	m, problems := DecodeOrderApproved(payload)
	orderID := ""
	if m != nil {
		orderID = m.OrderID
		if checkOrderID(orderID) != nil {
			orderID = ""
		}
	} else {
		orderID = RecoverOrderID(payload)
	}

	if orderID != "" {
		stored, state, found, err := storedOrderDigest(ctx, tx, orderID)
		if err != nil {
			return "", orderID, err
		}
		if found {
			if string(stored) == string(digest) {
				return OutcomeReplay, orderID, nil
			}
			return OutcomeConflict, orderID, in.conflict(ctx, tx, orderID, state, digest, messageUUID, now)
		}
	}

	if problems != nil {
		if orderID == "" {
			return OutcomeUnreadable, "", in.unreadable(ctx, tx, digest, len(payload), messageUUID, problems, now)
		}
		o := &Order{ID: orderID, State: OrderRejected, Problems: problems}
		return OutcomeRejected, orderID, in.reject(ctx, tx, o, digest, messageUUID, now)
	}

	o, problems, ok := in.Ahead.take(messageUUID, sum)
	if !ok {
		o, problems = in.Validator.Validate(m)
	}
	if problems == nil {
		var blocks []CardNumber
		var err error
		blocks, problems, err = checkEmployment(ctx, tx, o)
		if err != nil {
			return "", orderID, err
		}
		if problems == nil {
			return OutcomeAccepted, orderID, in.accept(ctx, tx, o, blocks, digest, messageUUID, now)
		}
		o.State, o.Problems, o.Cards = OrderRejected, problems, nil
	}
	if orderID == "" {
		return OutcomeUnreadable, "", in.unreadable(ctx, tx, digest, len(payload), messageUUID, problems, now)
	}
	return OutcomeRejected, orderID, in.reject(ctx, tx, o, digest, messageUUID, now)
}

// checkEmployment applies the one-active-card-per-employment rule against the store. It returns the
// cards to block (replaced by this order) or the problems.
func checkEmployment(ctx context.Context, tx pgx.Tx, o *Order) ([]CardNumber, Problems, error) {
	var ps Problems
	var blocks []CardNumber
	for i, c := range o.Cards {
		f := fmt.Sprintf("cards[%d]", i)
		active, err := activeCardOf(ctx, tx, c.Holder.Key, o.OrgNumber)
		if err != nil {
			return nil, nil, err
		}
		if c.ReplacesCard == "" {
			if active != nil {
				ps = append(ps, Problem{Field: f + ".holder.national_id", Rule: "one-card-per-employment",
					Message: fmt.Sprintf("holder already has active card %s at organisation %s; order a replacement with replaces_card", active.Number, o.OrgNumber)})
			}
			continue
		}
		replaced, err := cardByNumber(ctx, tx, c.ReplacesCard)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case replaced != nil && (replaced.HolderKey != c.Holder.Key || replaced.OrgNumber != o.OrgNumber):
			ps = append(ps, Problem{Field: f + ".replaces_card", Rule: "replaces-own-card",
				Message: fmt.Sprintf("card %s belongs to another holder or employer", c.ReplacesCard)})
		case active != nil && active.Number != c.ReplacesCard:
			ps = append(ps, Problem{Field: f + ".replaces_card", Rule: "one-card-per-employment",
				Message: fmt.Sprintf("holder's active card at %s is %s, not %s", o.OrgNumber, active.Number, c.ReplacesCard)})
		case active != nil:
			blocks = append(blocks, active.Number)
		}
		// A replaced card we never made (issued before this line) or already blocked needs nothing.
	}
	return blocks, ps, nil
}

func (in *Intake) accept(ctx context.Context, tx pgx.Tx, o *Order, blocks []CardNumber, digest []byte, messageUUID string, now time.Time) error {
	numbers, err := allocateCardNumbers(ctx, tx, len(o.Cards))
	if err != nil {
		return err
	}
	for i := range o.Cards {
		o.Cards[i].Number = numbers[i]
	}
	// Block the replaced cards first: the unique index allows one active card per employment.
	replacedBy := map[CardNumber]CardNumber{}
	for _, c := range o.Cards {
		if c.ReplacesCard != "" {
			replacedBy[c.ReplacesCard] = c.Number
		}
	}
	var blockedEvents []any
	var blocked []string
	for _, b := range blocks {
		if _, err := TransitionCard(ctx, tx, b, CardBlocked, intakeActor, fmt.Sprintf("replaced by %s (order %s)", replacedBy[b], o.ID)); err != nil {
			return err
		}
		blocked = append(blocked, string(b))
		blockedEvents = append(blockedEvents, CardBlockedEvent{Type: "CardBlocked", CardNumber: string(b),
			Reason: "replaced", ReplacedBy: string(replacedBy[b])})
	}
	if err := insertOrder(ctx, tx, o, digest, messageUUID, intakeActor); err != nil {
		return err
	}
	ev := OrderAcceptedEvent{Type: "OrderAccepted", OrderID: o.ID, AcceptedAt: now, DispatchBy: o.DispatchBy.Format(time.DateOnly), BlockedCards: blocked}
	queued := make([]any, len(o.Cards))
	for i, c := range o.Cards {
		ev.Cards = append(ev.Cards, AcceptedCard{CardNumber: string(c.Number), HolderName: c.Holder.FullName(), ReplacesCard: string(c.ReplacesCard)})
		queued[i] = CardQueuedEvent{Type: "CardQueued", CardNumber: string(c.Number), OrderID: o.ID,
			CardType: string(o.CardType), DispatchBy: ev.DispatchBy}
	}
	if err := in.publish(ctx, tx, TopicCardsBlocked, o.ID, blockedEvents...); err != nil {
		return err
	}
	if err := in.publish(ctx, tx, TopicOrdersAccepted, o.ID, ev); err != nil {
		return err
	}
	return in.publish(ctx, tx, TopicCardsQueued, o.ID, queued...)
}

func (in *Intake) reject(ctx context.Context, tx pgx.Tx, o *Order, digest []byte, messageUUID string, now time.Time) error {
	if err := insertOrder(ctx, tx, o, digest, messageUUID, intakeActor); err != nil {
		return err
	}
	return in.publish(ctx, tx, TopicOrdersRejected, o.ID, OrderRejectedEvent{Type: "OrderRejected", OrderID: o.ID,
		MessageUUID: messageUUID, RejectedAt: now, Problems: o.Problems})
}

func (in *Intake) unreadable(ctx context.Context, tx pgx.Tx, digest []byte, size int, messageUUID string, ps Problems, now time.Time) error {
	raw, err := json.Marshal(ps.storable())
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO unreadable_messages (payload_sha256, message_uuid, size_bytes, problems)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, digest, messageUUID, size, raw)
	if err != nil {
		return fmt.Errorf("store unreadable message: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // the same bytes again: reported already
	}
	return in.publish(ctx, tx, TopicOrdersRejected, "", OrderRejectedEvent{Type: "OrderRejected",
		MessageUUID: messageUUID, RejectedAt: now, Problems: ps})
}

func (in *Intake) conflict(ctx context.Context, tx pgx.Tx, orderID, state string, digest []byte, messageUUID string, now time.Time) error {
	tag, err := tx.Exec(ctx, `INSERT INTO intake_conflicts (order_id, payload_sha256, message_uuid) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, orderID, digest, messageUUID)
	if err != nil {
		return fmt.Errorf("record conflict on order %s: %w", orderID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return in.publish(ctx, tx, TopicOrderConflicts, orderID, OrderConflictEvent{Type: "OrderConflict", OrderID: orderID,
		MessageUUID: messageUUID, At: now, StoredState: state})
}

// publish publishes payloads as JSON events on topic inside tx. The order_id metadata lets
// consumers route without decoding.
func (in *Intake) publish(ctx context.Context, tx pgx.Tx, topic, orderID string, payloads ...any) error {
	if len(payloads) == 0 {
		return nil
	}
	msgs := make([]*message.Message, len(payloads))
	for i, p := range payloads {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode %T event: %w", p, err)
		}
		msgs[i] = message.NewMessage(watermill.NewUUID(), b)
		if orderID != "" {
			msgs[i].Metadata.Set("order_id", orderID)
		}
	}
	return in.Bus.PublishTx(ctx, tx, topic, msgs...)
}

// Register adds the intake handler to router, reading TopicOrdersApproved with sub, and prepares
// the topics it publishes to.
func (in *Intake) Register(ctx context.Context, router *message.Router, sub message.Subscriber) error {
	if err := in.Bus.InitTopics(ctx, IntakeConsumerGroup, append([]string{TopicOrdersApproved}, OutputTopics...)...); err != nil {
		return err
	}
	// Intake deletes each input message once handled (it holds national ids in clear); the index
	// keeps that delete cheap however long the topic's table grows.
	if _, err := in.Bus.Exec(ctx, `CREATE INDEX IF NOT EXISTS watermill_orders_approved_uuid ON `+bus.Table(TopicOrdersApproved)+` (uuid)`); err != nil {
		return fmt.Errorf("index input topic: %w", err)
	}
	router.AddConsumerHandler("intake", TopicOrdersApproved, sub, in.Handle)
	return nil
}
