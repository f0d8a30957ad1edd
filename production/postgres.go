package production

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the system of record in Postgres. Writes that belong to a message take the handler's
// transaction (pgx.Tx); reads for people take the pool.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore wraps a pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the store's pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// storedOrderDigest returns the payload digest and state of a stored order, or found=false.
func storedOrderDigest(ctx context.Context, tx pgx.Tx, orderID string) (digest []byte, state string, found bool, err error) {
	err = tx.QueryRow(ctx, "SELECT payload_sha256, state FROM orders WHERE order_id = $1 FOR UPDATE", orderID).Scan(&digest, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("look up order %s: %w", orderID, err)
	}
	return digest, state, true, nil
}

// activeCard is a card that counts for the one-card-per-employment rule.
type activeCard struct {
	Number    CardNumber
	HolderKey HolderKey
	OrgNumber string
	State     CardState
}

func activeCardOf(ctx context.Context, tx pgx.Tx, key HolderKey, org string) (*activeCard, error) {
	var c activeCard
	err := tx.QueryRow(ctx, `SELECT card_number, holder_key, org_number, state FROM cards
		WHERE holder_key = $1 AND org_number = $2 AND state <> 'blocked' FOR UPDATE`, string(key), org).
		Scan(&c.Number, &c.HolderKey, &c.OrgNumber, &c.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up active card of holder: %w", err)
	}
	return &c, nil
}

func cardByNumber(ctx context.Context, tx pgx.Tx, n CardNumber) (*activeCard, error) {
	var c activeCard
	err := tx.QueryRow(ctx, `SELECT card_number, holder_key, org_number, state FROM cards WHERE card_number = $1 FOR UPDATE`, string(n)).
		Scan(&c.Number, &c.HolderKey, &c.OrgNumber, &c.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up card %s: %w", n, err)
	}
	return &c, nil
}

// insertOrder stores an order (accepted or rejected) with its cards and photos, and writes the
// first audit entries. Card numbers must be set.
func insertOrder(ctx context.Context, tx pgx.Tx, o *Order, digest []byte, messageUUID, actor string) error {
	o = o.storable()
	addr, err := json.Marshal(map[string]string{
		"name": o.Address.Name, "attention": o.Address.Attention, "street": o.Address.Street,
		"postal_code": o.Address.PostalCode, "city": o.Address.City, "country": o.Address.Country,
	})
	if err != nil {
		return err
	}
	acc, err := json.Marshal(accessoriesJSON(o.Accessories))
	if err != nil {
		return err
	}
	var problems []byte
	if len(o.Problems) > 0 {
		if problems, err = json.Marshal(o.Problems); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO orders (order_id, payload_sha256, message_uuid, state, approved_at, card_type,
		org_number, company_name, orderer_name, orderer_email, delivery_address, accessories, dispatch_by, problems)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		o.ID, digest, messageUUID, string(o.State), nullTime(o.ApprovedAt), string(o.CardType), o.OrgNumber,
		o.CompanyName, o.OrdererName, o.OrdererEmail, addr, acc, nullDate(o.DispatchBy), problems)
	if err != nil {
		return fmt.Errorf("insert order %s: %w", o.ID, err)
	}
	// The append-only audit log keeps only the field and rule of each problem: the sentence can
	// name a holder's card or quote what was sent, and retention cannot reach the audit log.
	var rules []string
	for _, p := range o.Problems {
		rules = append(rules, p.Field+": "+p.Rule)
	}
	if err := audit(ctx, tx, actor, "order", o.ID, "", string(o.State), strings.Join(rules, "; ")); err != nil {
		return err
	}
	if len(o.Cards) == 0 {
		return nil
	}
	cards := make([][]any, len(o.Cards))
	photos := make([][]any, len(o.Cards))
	for i, c := range o.Cards {
		cards[i] = []any{string(c.Number), o.ID, i, string(c.Holder.Key), c.Holder.GivenName, c.Holder.FamilyName,
			c.Holder.BirthDate, string(c.Holder.Gender), o.OrgNumber, string(o.CardType), nullString(string(c.ReplacesCard)), string(c.State)}
		photos[i] = []any{string(c.Number), c.Photo.JPEG, c.Photo.Width, c.Photo.Height}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cards"}, []string{"card_number", "order_id", "position", "holder_key",
		"given_name", "family_name", "birth_date", "gender", "org_number", "card_type", "replaces_card", "state"},
		pgx.CopyFromRows(cards)); err != nil {
		return fmt.Errorf("insert cards of order %s: %w", o.ID, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"card_photos"}, []string{"card_number", "jpeg", "width", "height"},
		pgx.CopyFromRows(photos)); err != nil {
		return fmt.Errorf("insert photos of order %s: %w", o.ID, err)
	}
	rows := make([][]any, len(o.Cards))
	for i, c := range o.Cards {
		rows[i] = []any{actor, "card", string(c.Number), nil, string(c.State), "order " + o.ID + " accepted"}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{"actor", "entity", "entity_id", "from_state", "to_state", "reason"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("audit cards of order %s: %w", o.ID, err)
	}
	return nil
}

// allocateCardNumbers takes n serials from the sequence.
func allocateCardNumbers(ctx context.Context, tx pgx.Tx, n int) ([]CardNumber, error) {
	rows, err := tx.Query(ctx, "SELECT nextval('card_number_seq') FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, fmt.Errorf("allocate %d card numbers: %w", n, err)
	}
	serials, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("allocate %d card numbers: %w", n, err)
	}
	out := make([]CardNumber, len(serials))
	for i, s := range serials {
		if out[i], err = NewCardNumber(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TransitionCard moves a card to state to, if the state machine allows it from its current state,
// and writes the audit entry. It is the only way a card's state changes.
//
// Lock, move and audit are one statement (a round trip a transition instead of three): the
// sub-select locks the row and yields its state before the update, the update happens only from a
// state the table allows, and the audit row is written from what the update returned. When nothing
// moved, a second look says why.
func TransitionCard(ctx context.Context, tx pgx.Tx, n CardNumber, to CardState, actor, reason string) (from CardState, err error) {
	return transitionCardSet(ctx, tx, n, to, actor, reason, "")
}

// transitionCardSet is TransitionCard that also sets other columns of the card in the same
// update (set: "col = $6, …", the row aliased c, its arguments in args): every update of a card
// changes an indexed column (its state), so each one writes every index of the table again.
func transitionCardSet(ctx context.Context, tx pgx.Tx, n CardNumber, to CardState, actor, reason, set string, args ...any) (from CardState, err error) {
	b := &pgx.Batch{}
	m := queueCardMove(b, n, to, actor, reason, set, args...)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return "", err
	}
	return m.result(ctx, tx)
}

// A cardMove is a card transition queued in a batch with other statements of its transaction
// (queueCardMove); result says, once the batch is read, whether it moved.
type cardMove struct {
	n     CardNumber
	to    CardState
	from  CardState
	moved bool
}

// queueCardMove queues transitionCardSet's statement in b.
func queueCardMove(b *pgx.Batch, n CardNumber, to CardState, actor, reason, set string, args ...any) *cardMove {
	if set != "" {
		set = ", " + set
	}
	var froms []string
	for s := range cardTransitions {
		if s.To(to) == nil {
			froms = append(froms, string(s))
		}
	}
	m := &cardMove{n: n, to: to}
	b.Queue(`WITH moved AS (
			UPDATE cards c SET state = $2, updated_at = now()`+set+`
			FROM (SELECT card_number, state FROM cards WHERE card_number = $1 FOR UPDATE) old
			WHERE c.card_number = old.card_number AND old.state = ANY($3)
			RETURNING old.state)
		INSERT INTO audit_log (actor, entity, entity_id, from_state, to_state, reason)
		SELECT $4, 'card', $1, state, $2, $5 FROM moved RETURNING from_state`,
		append([]any{string(n), string(to), froms, actor, nullString(reason)}, args...)...).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&m.from)
		switch {
		case err == nil:
			m.moved = true
		case !errors.Is(err, pgx.ErrNoRows): // no row: not moved, which result explains
			return fmt.Errorf("card %s: move to %s: %w", n, to, err)
		}
		return nil
	})
	return m
}

// result is the state the card moved from, or, when it did not move, a TransitionError (or why
// not) from a second look in tx.
func (m *cardMove) result(ctx context.Context, tx pgx.Tx) (from CardState, err error) {
	if m.moved {
		return m.from, nil
	}
	n, to := m.n, m.to
	if err := tx.QueryRow(ctx, "SELECT state FROM cards WHERE card_number = $1", string(n)).Scan(&from); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("card %s: no such card", n)
		}
		return "", fmt.Errorf("card %s: read state: %w", n, err)
	}
	err = from.To(to)
	if err == nil { // the card moved between the update and this look (a concurrent commit)
		err = fmt.Errorf("card %s: %s → %s allowed but not moved (changed meanwhile)", n, from, to)
	}
	var te *TransitionError
	if errors.As(err, &te) {
		te.ID = string(n)
	}
	return from, err
}

// batchTx runs one transaction that begins with the statements queued in b, sent with its BEGIN
// in one round trip, then runs then (if not nil) for what depends on their results, and commits.
// Any error, or a panic, rolls it back. A station's steps are a few statements each; sending them
// together saves a round trip a statement on both sides.
func batchTx(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch, then func(tx pgx.Tx) error) error {
	full := &pgx.Batch{}
	full.BeginTx(pgx.TxOptions{})
	full.QueuedQueries = append(full.QueuedQueries, b.QueuedQueries...)
	br := pool.SendBatch(ctx, full)
	tx := br.Tx()
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := br.Close(); err != nil {
		return err
	}
	if then != nil {
		if err := then(tx); err != nil {
			return err
		}
	}
	done = true
	if err := tx.Commit(ctx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

// TransitionOrder moves an order to state to, if allowed, with its audit entry, in one statement
// as TransitionCard does. The row lock is FOR NO KEY UPDATE, as the update takes: it does not wait
// for the KEY SHARE locks that writing an order's cards takes (two stations claiming sibling cards
// would deadlock on FOR UPDATE).
func TransitionOrder(ctx context.Context, tx pgx.Tx, id string, to OrderState, actor, reason string) error {
	var froms []string
	for s := range orderTransitions {
		if s.To(to) == nil {
			froms = append(froms, string(s))
		}
	}
	var from OrderState
	err := tx.QueryRow(ctx, `WITH moved AS (
			UPDATE orders o SET state = $2, updated_at = now()
			FROM (SELECT order_id, state FROM orders WHERE order_id = $1 FOR NO KEY UPDATE) old
			WHERE o.order_id = old.order_id AND old.state = ANY($3)
			RETURNING old.state)
		INSERT INTO audit_log (actor, entity, entity_id, from_state, to_state, reason)
		SELECT $4, 'order', $1, state, $2, $5 FROM moved RETURNING from_state`,
		id, string(to), froms, actor, nullString(reason)).Scan(&from)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("order %s: move to %s: %w", id, to, err)
	}
	if err := tx.QueryRow(ctx, "SELECT state FROM orders WHERE order_id = $1", id).Scan(&from); err != nil {
		return fmt.Errorf("order %s: read state: %w", id, err)
	}
	err = from.To(to)
	if err == nil {
		err = fmt.Errorf("order %s: %s → %s allowed but not moved (changed meanwhile)", id, from, to)
	}
	var te *TransitionError
	if errors.As(err, &te) {
		te.ID = id
	}
	return err
}

func audit(ctx context.Context, tx pgx.Tx, actor, entity, id, from, to, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, entity, entity_id, from_state, to_state, reason)
		VALUES ($1, $2, $3, $4, $5, $6)`, actor, entity, id, nullString(from), to, nullString(reason))
	if err != nil {
		return fmt.Errorf("audit %s %s → %s: %w", entity, id, to, err)
	}
	return nil
}

// OrderSummary is one line of `cardline orders`.
type OrderSummary struct {
	ID          string
	State       OrderState
	CardType    string
	CompanyName string
	Cards       int
	ReceivedAt  time.Time
	DispatchBy  *time.Time
	Problems    Problems
}

// ListOrders returns orders newest first, optionally only those in state.
func (s *Store) ListOrders(ctx context.Context, state string, limit int) ([]OrderSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.order_id, o.state, coalesce(o.card_type, ''), coalesce(o.company_name, ''),
		(SELECT count(*) FROM cards c WHERE c.order_id = o.order_id), o.received_at, o.dispatch_by, o.problems
		FROM orders o WHERE ($1 = '' OR o.state = $1) ORDER BY o.received_at DESC, o.order_id LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	var out []OrderSummary
	for rows.Next() {
		var o OrderSummary
		var problems []byte
		if err := rows.Scan(&o.ID, &o.State, &o.CardType, &o.CompanyName, &o.Cards, &o.ReceivedAt, &o.DispatchBy, &problems); err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		if problems != nil {
			if err := json.Unmarshal(problems, &o.Problems); err != nil {
				return nil, fmt.Errorf("order %s: decode problems: %w", o.ID, err)
			}
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// UnreadableMessage is an input message that named no usable order id.
type UnreadableMessage struct {
	MessageUUID string
	SizeBytes   int
	ReceivedAt  time.Time
	Problems    Problems
}

// ListUnreadable returns the messages intake could not tie to an order, newest first.
func (s *Store) ListUnreadable(ctx context.Context, limit int) ([]UnreadableMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT message_uuid, size_bytes, received_at, problems FROM unreadable_messages
		ORDER BY received_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list unreadable messages: %w", err)
	}
	defer rows.Close()
	var out []UnreadableMessage
	for rows.Next() {
		var u UnreadableMessage
		var problems []byte
		if err := rows.Scan(&u.MessageUUID, &u.SizeBytes, &u.ReceivedAt, &problems); err != nil {
			return nil, fmt.Errorf("list unreadable messages: %w", err)
		}
		if err := json.Unmarshal(problems, &u.Problems); err != nil {
			return nil, fmt.Errorf("decode problems: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Card loads one card with its order's employer, for rendering and encoding.
func (s *Store) Card(ctx context.Context, n CardNumber) (*Card, *Order, error) {
	var c Card
	var o Order
	var birth, expiry *time.Time // birth date: NULL once retention erased it
	var replaces *string
	err := s.pool.QueryRow(ctx, `SELECT c.card_number, c.order_id, c.holder_key, c.given_name, c.family_name, c.birth_date,
		c.gender, c.replaces_card, c.state, c.expiry, coalesce(p.jpeg, ''::bytea), coalesce(p.width, 0), coalesce(p.height, 0),
		o.card_type, o.org_number, o.company_name, o.dispatch_by
		FROM cards c JOIN orders o USING (order_id) LEFT JOIN card_photos p USING (card_number) WHERE c.card_number = $1`, string(n)).
		Scan(&c.Number, &c.OrderID, &c.Holder.Key, &c.Holder.GivenName, &c.Holder.FamilyName, &birth,
			&c.Holder.Gender, &replaces, &c.State, &expiry, &c.Photo.JPEG, &c.Photo.Width, &c.Photo.Height,
			&o.CardType, &o.OrgNumber, &o.CompanyName, &o.DispatchBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("card %s: no such card", n)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load card %s: %w", n, err)
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
	o.ID = c.OrderID
	return &c, &o, nil
}

func accessoriesJSON(as []Accessory) []map[string]any {
	out := make([]map[string]any, 0, len(as))
	for _, a := range as {
		out = append(out, map[string]any{"sku": a.SKU, "quantity": a.Quantity})
	}
	return out
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.DateOnly)
}
