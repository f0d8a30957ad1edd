package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the retention chores need of a pool or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// The table names watermill-sql's default Postgres schema and offsets adapter make (see Table).
const (
	tablePrefix   = "watermill_"
	offsetsPrefix = "watermill_offsets_"
)

func offsetsTable(topic string) string { return pgx.Identifier{offsetsPrefix + topic}.Sanitize() }

// Topics lists the topics that have a messages table on the search path, sorted.
func Topics(ctx context.Context, db DB) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT c.relname FROM pg_class c
		WHERE c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
		AND starts_with(c.relname, $1) AND NOT starts_with(c.relname, $2)
		ORDER BY c.relname`, tablePrefix, offsetsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list topic tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list topic tables: %w", err)
	}
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, tablePrefix)
	}
	return names, nil
}

// ConsumerOffset is how far a consumer group has acknowledged a topic: every message at or before
// (TransactionID, Offset), in the order the default schema delivers them, is consumed.
type ConsumerOffset struct {
	Group         string
	TransactionID uint64
	Offset        int64
}

// Offsets lists the consumer groups of topic and how far each has read; none when no group has
// ever subscribed (or the topic has no offsets table).
func Offsets(ctx context.Context, db DB, topic string) ([]ConsumerOffset, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, offsetsTable(topic)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := db.Query(ctx, `SELECT consumer_group, last_processed_transaction_id::text, coalesce(offset_acked, 0)
		FROM `+offsetsTable(topic)+` ORDER BY consumer_group`)
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConsumerOffset, error) {
		var o ConsumerOffset
		var xid string
		if err := r.Scan(&o.Group, &xid, &o.Offset); err != nil {
			return o, err
		}
		var err error
		o.TransactionID, err = strconv.ParseUint(xid, 10, 64)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	return out, nil
}

// DeleteConsumed deletes up to limit messages of topic that were published before `before` and that
// every consumer group of the topic has acknowledged, oldest first, in one statement, and says how
// many went. A message some group has not yet acknowledged stays, however old; a topic no group has
// subscribed to has no reader on this database, so its messages go by age alone.
//
// created_at is a timestamp without time zone, written in the publishing session's TimeZone; the
// comparison reads it in this session's, which is the same as long as sessions keep the server's.
func DeleteConsumed(ctx context.Context, db DB, topic string, before time.Time, limit int) (int64, error) {
	var hasOffsets bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, offsetsTable(topic)).Scan(&hasOffsets); err != nil {
		return 0, fmt.Errorf("delete consumed messages of %s: %w", topic, err)
	}
	unconsumed := ""
	if hasOffsets {
		// A message is consumed by a group when it is at or before the group's acknowledged
		// position; coalesce keeps a group with no acknowledged offset holding everything.
		unconsumed = ` AND NOT EXISTS (SELECT 1 FROM ` + offsetsTable(topic) + ` o
			WHERE (m.transaction_id, m."offset") > (o.last_processed_transaction_id, coalesce(o.offset_acked, 0)))`
	}
	t := Table(topic)
	// By ctid: a scan of the primary key finds the chunk, and the delete visits only its rows
	// (matching on the key made the planner scan the whole table for every chunk). Messages are
	// never updated, so a ctid found in this statement's snapshot is the message found.
	tag, err := db.Exec(ctx, `DELETE FROM `+t+` WHERE ctid = ANY(ARRAY(
		SELECT m.ctid FROM `+t+` m WHERE m.created_at < $1::timestamptz`+unconsumed+`
		ORDER BY m.transaction_id, m."offset" LIMIT $2))`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("delete consumed messages of %s: %w", topic, err)
	}
	return tag.RowsAffected(), nil
}

// Held counts, for each consumer group of topic that has not yet read some message published before
// `before`, how many such messages it holds back from DeleteConsumed. A group that stopped reading
// (retired, renamed, its instance gone) keeps its topic's messages forever: this names it.
func Held(ctx context.Context, db DB, topic string, before time.Time) (map[string]int64, error) {
	var hasOffsets bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, offsetsTable(topic)).Scan(&hasOffsets); err != nil {
		return nil, fmt.Errorf("messages held on %s: %w", topic, err)
	}
	held := map[string]int64{}
	if !hasOffsets {
		return held, nil
	}
	rows, err := db.Query(ctx, `SELECT o.consumer_group, count(*) FROM `+offsetsTable(topic)+` o JOIN `+Table(topic)+` m
		ON (m.transaction_id, m."offset") > (o.last_processed_transaction_id, coalesce(o.offset_acked, 0))
		WHERE m.created_at < $1::timestamptz GROUP BY o.consumer_group`, before)
	if err != nil {
		return nil, fmt.Errorf("messages held on %s: %w", topic, err)
	}
	var group string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&group, &n}, func() error { held[group] = n; return nil }); err != nil {
		return nil, fmt.Errorf("messages held on %s: %w", topic, err)
	}
	return held, nil
}
