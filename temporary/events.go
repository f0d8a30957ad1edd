package temporary

import "time"

// Topics of the temporary-card stage.
const (
	TopicMailed = "hms.temporary.mailed.v1" // out: the orderer's mail went to the SMTP relay
	TopicFailed = "hms.temporary.failed.v1" // out: the mail cannot be delivered; operators act
)

// ConsumerGroup is the consumer group of the stage's handler on production.TopicOrdersAccepted.
const ConsumerGroup = "cardline-temporary"

// MailedEvent says an orderer's mail with the temporary cards was accepted by the SMTP relay.
// Attempts above 1 mean earlier attempts failed or were cut short by a crash; in the latter case
// the same mail (same MessageID) may have reached the relay more than once.
type MailedEvent struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	Kind      string    `json:"kind"` // accepted or resend
	MessageID string    `json:"message_id"`
	Recipient string    `json:"recipient"`
	Cards     []string  `json:"cards"`
	Attempts  int       `json:"attempts"`
	SentAt    time.Time `json:"sent_at"`
}

// FailedEvent says an orderer's mail will not be sent without an operator: the relay refused it
// for good (a 5xx on the recipient), the cards could not be rendered, or the retries ran out.
type FailedEvent struct {
	Type      string    `json:"type"`
	OrderID   string    `json:"order_id"`
	Kind      string    `json:"kind"`
	MessageID string    `json:"message_id"`
	Recipient string    `json:"recipient"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	FailedAt  time.Time `json:"failed_at"`
}
