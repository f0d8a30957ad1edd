package temporary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/production"
)

// JobState is where a mail job is. pending → sending → sent; sending → pending (a temporary failure,
// retried after back-off) or failed (a permanent failure, or the retries ran out). A job found in
// sending after its lease belonged to a worker that died mid-attempt and is claimed again.
type JobState string

// The job states.
const (
	JobPending JobState = "pending"
	JobSending JobState = "sending"
	JobSent    JobState = "sent"
	JobFailed  JobState = "failed"
)

// Job kinds: the one mail of an accepted order, and a copy an operator asked for.
const (
	KindAccepted = "accepted"
	KindResend   = "resend"
)

// A Job is one mail in the outbox. Its MessageID is fixed when it is recorded; Attempts counts
// claims, so it also counts attempts cut short by a crash.
type Job struct {
	ID            int64
	OrderID       string
	Kind          string
	MessageID     string
	Recipient     string
	State         JobState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	RequestedBy   string
	Reason        string
	Cards         []string
	CreatedAt     time.Time
	SentAt        *time.Time
}

const jobColumns = `id, order_id, kind, message_id, recipient, state, attempts, next_attempt_at, coalesce(last_error, ''),
	requested_by, coalesce(reason, ''), coalesce(cards, '{}'), created_at, sent_at`

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.OrderID, &j.Kind, &j.MessageID, &j.Recipient, &j.State, &j.Attempts, &j.NextAttemptAt,
		&j.LastError, &j.RequestedBy, &j.Reason, &j.Cards, &j.CreatedAt, &j.SentAt)
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// outbox is the mail_outbox table.
type outbox struct{ pool *pgxpool.Pool }

// enqueueAccepted records the mail of an accepted order in tx, once: a second call for the same
// order (a redelivered event) changes nothing. It reports whether it recorded a new job.
func enqueueAccepted(ctx context.Context, tx pgx.Tx, orderID, messageID string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO mail_outbox (order_id, kind, message_id, recipient, requested_by)
		SELECT order_id, 'accepted', $2, orderer_email, 'intake' FROM orders WHERE order_id = $1 AND state <> 'rejected'
		ON CONFLICT (order_id) WHERE kind = 'accepted' DO NOTHING`, orderID, messageID)
	if err != nil {
		return false, fmt.Errorf("record mail of order %s: %w", orderID, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE order_id = $1 AND kind = 'accepted')`, orderID).Scan(&exists); err != nil {
		return false, fmt.Errorf("record mail of order %s: %w", orderID, err)
	}
	if !exists {
		return false, fmt.Errorf("record mail of order %s: no accepted order with that id", orderID)
	}
	return false, nil
}

// resend records a new copy of an order's mail, to the orderer's address as stored.
func (o *outbox) resend(ctx context.Context, orderID, messageID, by, reason string) (*Job, error) {
	j, err := scanJob(o.pool.QueryRow(ctx, `INSERT INTO mail_outbox (order_id, kind, message_id, recipient, requested_by, reason)
		SELECT order_id, 'resend', $2, orderer_email, $3, $4 FROM orders WHERE order_id = $1 AND state <> 'rejected'
		RETURNING `+jobColumns, orderID, messageID, by, nullString(reason)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("resend mail of order %s: no accepted order with that id", orderID)
	}
	if err != nil {
		return nil, fmt.Errorf("resend mail of order %s: %w", orderID, err)
	}
	return j, nil
}

// claim takes the job that is due first (or job id, if id > 0 and it is due) for one attempt: it
// counts the attempt and leases the job until now+lease, in a transaction of its own that ends
// before the mail is sent. SKIP LOCKED lets workers claim side by side. nil means nothing is due.
func (o *outbox) claim(ctx context.Context, lease time.Duration, id int64) (*Job, error) {
	tx, err := o.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim mail job: %w", err)
	}
	defer tx.Rollback(ctx)
	var jobID int64
	err = tx.QueryRow(ctx, `SELECT id FROM mail_outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= now()
		AND ($1 = 0 OR id = $1) ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, id).Scan(&jobID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim mail job: %w", err)
	}
	j, err := scanJob(tx.QueryRow(ctx, `UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1,
		next_attempt_at = now() + $2::interval, updated_at = now() WHERE id = $1 RETURNING `+jobColumns, jobID, lease))
	if err != nil {
		return nil, fmt.Errorf("claim mail job %d: %w", jobID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("claim mail job %d: commit: %w", jobID, err)
	}
	return j, nil
}

// errLeaseLost says a job's lease ran out during the attempt and another claim took it.
var errLeaseLost = errors.New("lease of mail job lost")

// finish records the outcome of the attempt j in tx, if j still holds its lease (state sending,
// same attempt). set is the SQL SET list; args follow the id and attempt ($1, $2).
func finish(ctx context.Context, tx pgx.Tx, j *Job, set string, args ...any) error {
	tag, err := tx.Exec(ctx, `UPDATE mail_outbox SET `+set+`, updated_at = now() WHERE id = $1 AND state = 'sending' AND attempts = $2`,
		append([]any{j.ID, j.Attempts}, args...)...)
	if err != nil {
		return fmt.Errorf("record outcome of mail job %d: %w", j.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record outcome of mail job %d (attempt %d): %w", j.ID, j.Attempts, errLeaseLost)
	}
	return nil
}

// list returns jobs newest first, optionally only those in state, optionally of one order.
func (o *outbox) list(ctx context.Context, state JobState, orderID string, limit int) ([]Job, error) {
	rows, err := o.pool.Query(ctx, `SELECT `+jobColumns+` FROM mail_outbox WHERE ($1 = '' OR state = $1) AND ($2 = '' OR order_id = $2)
		ORDER BY created_at DESC, id DESC LIMIT $3`, string(state), orderID, limit)
	if err != nil {
		return nil, fmt.Errorf("list mail jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list mail jobs: %w", err)
		}
		out = append(out, *j)
	}
	return out, rows.Err()
}

// job reads one job.
func (o *outbox) job(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(o.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM mail_outbox WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("read mail job %d: %w", id, err)
	}
	return j, nil
}

// order reads what the mail says about an order, and the numbers of its cards that are still
// active (a card blocked since, e.g. replaced by a later order, gets no temporary card).
func (o *outbox) order(ctx context.Context, orderID string) (Order, []production.CardNumber, error) {
	var ord Order
	var dispatchBy *time.Time
	err := o.pool.QueryRow(ctx, `SELECT order_id, coalesce(orderer_name, ''), coalesce(orderer_email, ''), coalesce(company_name, ''),
		coalesce(org_number, ''), dispatch_by FROM orders WHERE order_id = $1`, orderID).
		Scan(&ord.ID, &ord.OrdererName, &ord.OrdererEmail, &ord.CompanyName, &ord.OrgNumber, &dispatchBy)
	if err != nil {
		return ord, nil, fmt.Errorf("load order %s: %w", orderID, err)
	}
	if dispatchBy != nil {
		ord.DispatchBy = *dispatchBy
	}
	rows, err := o.pool.Query(ctx, `SELECT card_number FROM cards WHERE order_id = $1 AND state <> 'blocked' ORDER BY position`, orderID)
	if err != nil {
		return ord, nil, fmt.Errorf("load cards of order %s: %w", orderID, err)
	}
	numbers, err := pgx.CollectRows(rows, pgx.RowTo[production.CardNumber])
	if err != nil {
		return ord, nil, fmt.Errorf("load cards of order %s: %w", orderID, err)
	}
	return ord, numbers, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// inTx runs f in a transaction of its own on the store's pool.
func (m *Mailer) inTx(ctx context.Context, f func(ctx context.Context, tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, m.store.Pool(), func(tx pgx.Tx) error { return f(ctx, tx) })
}
