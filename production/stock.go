package production

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StockLine is the blank stock of one card type at one station. Rule: the book always balances,
// Loaded = Produced + Spoiled + Remaining, because stations book every blank they use (one
// produced or spoiled movement per card, in the transaction that records the card); an operator's
// count is checked against Remaining and a difference is reported, never booked away.
type StockLine struct {
	Station   string
	CardType  CardType
	Loaded    int
	Produced  int
	Spoiled   int
	Remaining int // by the book
	// The last count, if any: what the operator counted, when, and what the book said then.
	Counted   *int
	CountedAt time.Time
	// BookAtCount is what the hopper held by the book when counted: Remaining then, less the
	// blanks fed and not yet booked (see CountBlanks).
	BookAtCount int
}

// Difference is the last count minus the book at that moment (negative: blanks missing).
func (l StockLine) Difference() int {
	if l.Counted == nil {
		return 0
	}
	return *l.Counted - l.BookAtCount
}

// LoadBlanks books n blanks of a card type loaded into a station's hopper.
func (s *Store) LoadBlanks(ctx context.Context, station string, t CardType, n int, actor string) error {
	if err := checkStock(station, t, n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("load blanks: a load of 0 blanks is not a load")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO blank_stock (station, card_type, kind, quantity, by) VALUES ($1, $2, 'loaded', $3, $4)`,
		station, string(t), n, actor)
	if err != nil {
		return fmt.Errorf("load %d %s blanks at %s: %w", n, t, station, err)
	}
	return nil
}

// CountBlanks records an operator's count of the blanks left in the hopper (at shift close) and
// returns the line with the count checked against the book. The book at the count is what the
// hopper holds by the bookings, less the blanks the station has fed and not yet booked: a card
// at the coupler or in the printer, or held by a parked station, is booked produced or spoiled
// only when it leaves, and a count while one is there is not a blank missing. Both come from
// one snapshot, and a station books a blank in the transaction that closes its attempt, so
// every blank is counted once.
func (s *Store) CountBlanks(ctx context.Context, station string, t CardType, n int, actor string) (*StockLine, error) {
	if err := checkStock(station, t, n); err != nil {
		return nil, err
	}
	var book int
	var at time.Time
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT
			(SELECT coalesce(sum(CASE WHEN kind = 'loaded' THEN quantity ELSE -quantity END), 0) FROM blank_stock
				WHERE station = $1 AND card_type = $2 AND kind <> 'counted')
			- (SELECT count(*) FROM card_attempts a JOIN cards c USING (card_number)
				WHERE a.station = $1 AND c.card_type = $2 AND a.outcome IS NULL AND a.step <> $3)`,
			station, string(t), stepClaimed).Scan(&book)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO blank_stock (station, card_type, kind, quantity, by, book) VALUES ($1, $2, 'counted', $3, $4, $5)
			RETURNING at`, station, string(t), n, actor, book).Scan(&at)
	})
	if err != nil {
		return nil, fmt.Errorf("count %s blanks at %s: %w", t, station, err)
	}
	lines, err := s.Stock(ctx)
	if err != nil {
		return nil, err
	}
	for i := range lines {
		if l := &lines[i]; l.Station == station && l.CardType == t {
			l.Counted, l.CountedAt, l.BookAtCount = &n, at, book // this count, whatever came after it
			return l, nil
		}
	}
	return nil, fmt.Errorf("count %s blanks at %s: the count is not in the book", t, station)
}

func checkStock(station string, t CardType, n int) error {
	if station == "" {
		return fmt.Errorf("blank stock: a station name is needed")
	}
	if !t.Valid() {
		return fmt.Errorf("blank stock: unknown card type %q", t)
	}
	if n < 0 {
		return fmt.Errorf("blank stock: %d is not a number of blanks", n)
	}
	return nil
}

// Stock is the blank stock book per station and card type.
func (s *Store) Stock(ctx context.Context) ([]StockLine, error) {
	rows, err := s.pool.Query(ctx, `WITH book AS (
			SELECT station, card_type,
				coalesce(sum(quantity) FILTER (WHERE kind = 'loaded'), 0) AS loaded,
				coalesce(sum(quantity) FILTER (WHERE kind = 'produced'), 0) AS produced,
				coalesce(sum(quantity) FILTER (WHERE kind = 'spoiled'), 0) AS spoiled,
				max(id) FILTER (WHERE kind = 'counted') AS last_count
			FROM blank_stock GROUP BY station, card_type)
		SELECT b.station, b.card_type, b.loaded, b.produced, b.spoiled, c.quantity, c.at,
			coalesce(c.book, (SELECT sum(CASE WHEN m.kind = 'loaded' THEN m.quantity ELSE -m.quantity END) FROM blank_stock m
				WHERE m.station = b.station AND m.card_type = b.card_type AND m.kind <> 'counted' AND m.id < b.last_count), 0)
		FROM book b LEFT JOIN blank_stock c ON c.id = b.last_count
		ORDER BY b.station, b.card_type`)
	if err != nil {
		return nil, fmt.Errorf("read blank stock: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StockLine, error) {
		var l StockLine
		var at *time.Time
		if err := r.Scan(&l.Station, &l.CardType, &l.Loaded, &l.Produced, &l.Spoiled, &l.Counted, &at, &l.BookAtCount); err != nil {
			return l, err
		}
		if at != nil {
			l.CountedAt = *at
		}
		l.Remaining = l.Loaded - l.Produced - l.Spoiled
		return l, nil
	})
}
