package production

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"cardline/internal/bus"
)

// Default retention periods beyond the dispatched orders' (ClockConfig.Retention, 90 days by
// default in `cardline serve`). Each is as short as the work that needs the data allows.
const (
	// DefaultRejectedRetention: a rejected order's orderer (name, e-mail, the attention line) and
	// the wording of its problems stay 30 days after rejection. Upstream cancels an order that is
	// not approved within 20 days, so by then any re-submission or support question about the
	// rejection ("why was my order refused?") has come; the reasons by field and rule stay for good.
	DefaultRejectedRetention = 30 * 24 * time.Hour
	// DefaultEventRetention: an event every consumer group has read stays 30 days after it was
	// published. Nothing in the line reads it again (the tables are the record); the month is for
	// investigating an incident with the events as they were sent, and is well inside the 90 days
	// the orders' personal data stay, so the events never outlive the orders they describe.
	DefaultEventRetention = 30 * 24 * time.Hour
	// DefaultPoisonRetention: a poisoned message stays 14 days. Input messages carry national ids in
	// clear, which the scheme wants gone after intake, so this is shorter than the events'; but an
	// operator must have had time to see the alert, get the fault fixed and replay, across a long
	// weekend such as Easter (five days off in Norway). After two weeks the order has long missed its
	// four-business-day deadline and upstream must send it again anyway.
	DefaultPoisonRetention = 14 * 24 * time.Hour
)

// RetentionResult is what one retention run erased.
type RetentionResult struct {
	Orders   []string // dispatched orders erased, and orders whose cards were blocked before they left
	Photos   int
	Cards    int
	Rejected []string // rejected orders erased
	// Unreadable is how many unreadable messages lost their problems' sentences.
	Unreadable int
	// Messages is how many messages went from each topic's table (only topics that lost some).
	Messages map[string]int64
	// Held is, by topic and consumer group, how many messages past their retention stay because
	// the group has not read them (only topics and groups that hold some).
	Held map[string]map[string]int64
}

// retentionChunk bounds one retention transaction on orders.
const retentionChunk = 500

// messageChunk bounds one delete on a topic table: each runs in a transaction of its own, kept
// short because on watermill-sql's default schema every open transaction delays every subscriber.
const messageChunk = 1000

// Retain erases the personal data that have outlived their use, as of the clock's now:
//
// Orders dispatched more than Retention ago: the order is dispatched and its last complete
// dispatch (order_dispatch, shipping's record) is older than that. Also orders that will never be
// dispatched whole because cards of theirs were blocked (replaced, lost) before they left: every
// card is blocked or dispatched, and the last of them changed more than Retention ago. What goes:
//   - the card photos (card_photos rows);
//   - on each card, the holder's given and family name and gender (blanked to ”) and birth date
//     (NULL);
//   - on the order, the orderer's name and e-mail (NULL) and the "attention" line of the delivery
//     address (a person's name, often);
//   - the recipient address of the order's temporary-card mails (blanked).
//
// What stays is the record of what was issued: card number, order id, organisation number and
// company name, card type, expiry, the states and the whole audit log, the delivery address without
// its attention line (a company's address, for the record of where cards went), envelopes and
// dispatches. The holder key stays too: it is a keyed hash, not the national id, and the
// one-card-per-employment rule needs it for as long as the card is valid. Store.Card still loads an
// erased card, with empty names, a zero birth date and no photo.
//
// Orders rejected more than RejectedRetention ago (received_at: intake rejects in the transaction
// that stores the order): the orderer's name and e-mail and the attention line go, and each
// problem keeps its field and rule but loses its sentence, which may name another holder's card.
// A rejected order has no cards. Messages that named no order (unreadable_messages) lose their
// problems' sentences after the same time, keeping field and rule: a message with a broken order
// id is validated all the same, and its sentences can quote an e-mail or a birth date.
// intake_conflicts (order id, a hash of the payload, the message id) holds no personal data: it
// stays.
//
// Orders of either kind are marked (personal_data_erased_at) so they are done once; runs are
// chunked and safe in parallel (SKIP LOCKED).
//
// The bus's topic tables: a message every consumer group of its topic has acknowledged goes
// EventRetention after it was published (a topic no group reads goes by age alone); one some
// group has not yet read stays, and the group is named in a warning (a group that stopped reading
// would keep them forever). The poison topic and the input topic (hms.orders.approved.v1,
// whose handled messages intake deletes at once, so what is left there went to the poison topic)
// carry national ids in clear, and go after PoisonRetention instead; the deleted poisoned messages
// are logged with their number.
//
// Every part runs even when another fails; the errors are joined.
func (c *Clock) Retain(ctx context.Context) (*RetentionResult, error) {
	now := c.clock.Now()
	res := &RetentionResult{Messages: map[string]int64{}, Held: map[string]map[string]int64{}}
	errDispatched := c.retainDispatched(ctx, now.Add(-c.cfg.Retention), res)
	errRejected := c.retainRejected(ctx, now.Add(-c.cfg.RejectedRetention), res)
	errTopics := c.retainTopics(ctx, now, res)
	c.metrics.retained(res)
	return res, errors.Join(errDispatched, errRejected, errTopics)
}

func (c *Clock) retainDispatched(ctx context.Context, cutoff time.Time, res *RetentionResult) error {
	for {
		var ids []string
		err := pgx.BeginFunc(ctx, c.store.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT o.order_id FROM orders o
				WHERE o.personal_data_erased_at IS NULL AND (
					(o.state = 'dispatched'
						AND (SELECT max(d.dispatched_at) FROM order_dispatch d WHERE d.order_id = o.order_id) < $1)
					OR (o.state NOT IN ('dispatched', 'rejected')
						AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.order_id = o.order_id AND c.state NOT IN ('blocked', 'dispatched'))
						AND EXISTS (SELECT 1 FROM cards c WHERE c.order_id = o.order_id AND c.state = 'blocked')
						AND (SELECT max(c.updated_at) FROM cards c WHERE c.order_id = o.order_id) < $1))
				ORDER BY o.order_id LIMIT $2 FOR UPDATE OF o SKIP LOCKED`, cutoff, retentionChunk)
			if err != nil {
				return err
			}
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
				return err
			}
			tag, err := tx.Exec(ctx, `DELETE FROM card_photos WHERE card_number IN (SELECT card_number FROM cards WHERE order_id = ANY($1))`, ids)
			if err != nil {
				return err
			}
			res.Photos += int(tag.RowsAffected())
			if tag, err = tx.Exec(ctx, `UPDATE cards SET given_name = '', family_name = '', gender = '', birth_date = NULL,
				updated_at = now() WHERE order_id = ANY($1)`, ids); err != nil {
				return err
			}
			res.Cards += int(tag.RowsAffected())
			if _, err := tx.Exec(ctx, `UPDATE orders SET orderer_name = NULL, orderer_email = NULL,
				delivery_address = delivery_address - 'attention', personal_data_erased_at = now(), updated_at = now()
				WHERE order_id = ANY($1)`, ids); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE mail_outbox SET recipient = '', updated_at = now() WHERE order_id = ANY($1)`, ids)
			return err
		})
		if err != nil {
			return fmt.Errorf("retention of dispatched orders: %w", err)
		}
		if len(ids) > 0 {
			c.log.Info("personal data erased after dispatch", "orders", len(ids), "first_order", ids[0])
		}
		res.Orders = append(res.Orders, ids...)
		if len(ids) < retentionChunk {
			return nil
		}
	}
}

func (c *Clock) retainRejected(ctx context.Context, cutoff time.Time, res *RetentionResult) error {
	for {
		var ids []string
		err := pgx.BeginFunc(ctx, c.store.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT order_id FROM orders
				WHERE state = 'rejected' AND personal_data_erased_at IS NULL AND received_at < $1
				ORDER BY order_id LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, retentionChunk)
			if err != nil {
				return err
			}
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE orders SET orderer_name = NULL, orderer_email = NULL,
				delivery_address = delivery_address - 'attention',
				problems = (SELECT jsonb_agg(p - 'message' ORDER BY i) FROM jsonb_array_elements(problems) WITH ORDINALITY AS e(p, i)),
				personal_data_erased_at = now(), updated_at = now()
				WHERE order_id = ANY($1)`, ids)
			return err
		})
		if err != nil {
			return fmt.Errorf("retention of rejected orders: %w", err)
		}
		if len(ids) > 0 {
			c.log.Info("personal data erased from rejected orders", "orders", len(ids), "first_order", ids[0])
		}
		res.Rejected = append(res.Rejected, ids...)
		if len(ids) < retentionChunk {
			break
		}
	}
	tag, err := c.store.pool.Exec(ctx, `UPDATE unreadable_messages
		SET problems = (SELECT coalesce(jsonb_agg(p - 'message' ORDER BY i), '[]') FROM jsonb_array_elements(problems) WITH ORDINALITY AS e(p, i)),
			problems_erased_at = now()
		WHERE problems_erased_at IS NULL AND received_at < $1`, cutoff)
	if err != nil {
		return fmt.Errorf("retention of unreadable messages: %w", err)
	}
	if res.Unreadable = int(tag.RowsAffected()); res.Unreadable > 0 {
		c.log.Info("problem wording erased from messages that named no order", "messages", res.Unreadable)
	}
	return nil
}

// carriesNationalIDs is whether topic's messages may hold national ids in clear (PoisonRetention).
func carriesNationalIDs(topic string) bool {
	return topic == bus.PoisonTopic || topic == TopicOrdersApproved
}

func (c *Clock) retainTopics(ctx context.Context, now time.Time, res *RetentionResult) error {
	topics, err := bus.Topics(ctx, c.store.pool)
	if err != nil {
		return fmt.Errorf("retention of events: %w", err)
	}
	var errs []error
	for _, topic := range topics {
		keep := c.cfg.EventRetention
		if carriesNationalIDs(topic) {
			keep = c.cfg.PoisonRetention
		}
		cutoff := now.Add(-keep)
		var gone int64
		for {
			n, err := bus.DeleteConsumed(ctx, c.store.pool, topic, cutoff, messageChunk)
			gone += n
			if err != nil {
				errs = append(errs, fmt.Errorf("retention of events: %w", err))
				break
			}
			if n < messageChunk {
				break
			}
		}
		held, err := bus.Held(ctx, c.store.pool, topic, cutoff)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of events: %w", err))
		}
		for group, n := range held {
			c.log.Warn("messages past retention kept: a consumer group has not read them", "topic", topic, "group", group,
				"messages", n, "retention", keep.String())
		}
		if len(held) > 0 {
			res.Held[topic] = held
		}
		if gone == 0 {
			continue
		}
		res.Messages[topic] = gone
		switch topic {
		case bus.PoisonTopic:
			// Never handled, now never replayable: operators must be able to tell.
			c.log.Warn("poisoned messages deleted past retention, not replayed", "topic", topic, "messages", gone,
				"retention", keep.String())
		default:
			c.log.Info("messages deleted past retention", "topic", topic, "messages", gone, "retention", keep.String())
		}
	}
	return errors.Join(errs...)
}
