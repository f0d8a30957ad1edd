package production

import "time"

// Topics of the line's first stage. Names carry a version: a change of payload shape is a new topic.
const (
	TopicOrdersApproved = "hms.orders.approved.v1"  // in: from upstream
	TopicOrdersAccepted = "hms.orders.accepted.v1"  // out: the order is stored and its cards queued
	TopicOrdersRejected = "hms.orders.rejected.v1"  // out, upstream: every reason
	TopicOrderConflicts = "hms.orders.conflicts.v1" // out, upstream: same id, other content; the first stands
	TopicCardsQueued    = "hms.cards.queued.v1"     // out: one per new card
	TopicCardsBlocked   = "hms.cards.blocked.v1"    // out: a replaced card is blocked
)

// IntakeConsumerGroup is the consumer group of the intake handler on TopicOrdersApproved.
const IntakeConsumerGroup = "cardline-intake"

// OutputTopics are the topics intake publishes to.
var OutputTopics = []string{TopicOrdersAccepted, TopicOrdersRejected, TopicOrderConflicts, TopicCardsQueued, TopicCardsBlocked}

// OrderAcceptedEvent says an order is stored and its cards are queued. It carries no personal data
// beyond what the orderer already knows: card numbers and holder names, never national ids.
type OrderAcceptedEvent struct {
	Type         string         `json:"type"`
	OrderID      string         `json:"order_id"`
	AcceptedAt   time.Time      `json:"accepted_at"`
	DispatchBy   string         `json:"dispatch_by"`
	Cards        []AcceptedCard `json:"cards"`
	BlockedCards []string       `json:"blocked_cards,omitempty"`
}

// AcceptedCard is one card of an accepted order.
type AcceptedCard struct {
	CardNumber   string `json:"card_number"`
	HolderName   string `json:"holder_name"`
	ReplacesCard string `json:"replaces_card,omitempty"`
}

// OrderRejectedEvent says an order will not be produced, and why. OrderID is empty when the message was
// too broken to name one; MessageUUID then ties the rejection to what was sent.
type OrderRejectedEvent struct {
	Type        string    `json:"type"`
	OrderID     string    `json:"order_id,omitempty"`
	MessageUUID string    `json:"message_uuid"`
	RejectedAt  time.Time `json:"rejected_at"`
	Problems    Problems  `json:"problems"`
}

// OrderConflictEvent says a message reused an order id with other content. The first order stands.
type OrderConflictEvent struct {
	Type        string    `json:"type"`
	OrderID     string    `json:"order_id"`
	MessageUUID string    `json:"message_uuid"`
	At          time.Time `json:"at"`
	StoredState string    `json:"stored_state"`
}

// CardQueuedEvent says a card waits for a station.
type CardQueuedEvent struct {
	Type       string `json:"type"`
	CardNumber string `json:"card_number"`
	OrderID    string `json:"order_id"`
	CardType   string `json:"card_type"`
	DispatchBy string `json:"dispatch_by"`
}

// CardBlockedEvent says a card is no longer valid.
type CardBlockedEvent struct {
	Type       string `json:"type"`
	CardNumber string `json:"card_number"`
	Reason     string `json:"reason"`
	ReplacedBy string `json:"replaced_by,omitempty"`
}
