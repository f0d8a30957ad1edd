package production

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// OrderApproved is the input message on TopicOrdersApproved, exactly as upstream sends it. Every
// field is decoded strictly: an unknown field, a value of the wrong type, trailing data or
// malformed JSON is a Problem, never silently dropped.
type OrderApproved struct {
	OrderID         string          `json:"order_id"`
	ApprovedAt      string          `json:"approved_at"`
	CardType        string          `json:"card_type"`
	Company         WireCompany     `json:"company"`
	Orderer         WireOrderer     `json:"orderer"`
	DeliveryAddress WireAddress     `json:"delivery_address"`
	Cards           []WireCard      `json:"cards"`
	Accessories     []WireAccessory `json:"accessories"`
}

// WireCompany is the employer: one company per order.
type WireCompany struct {
	OrgNumber string `json:"org_number"`
	Name      string `json:"name"`
}

// WireOrderer is the person who ordered and receives the temporary cards.
type WireOrderer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// WireAddress is the order's one delivery address.
type WireAddress struct {
	Name       string `json:"name"`
	Attention  string `json:"attention"`
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Country    string `json:"country"`
}

// WireCard is one card to make.
type WireCard struct {
	Holder       WireHolder `json:"holder"`
	Photo        WirePhoto  `json:"photo"`
	ReplacesCard *string    `json:"replaces_card"`
}

// WireHolder is the worker the card is for. NationalID is checked at intake and then dropped.
type WireHolder struct {
	NationalID string `json:"national_id"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"`
	Gender     string `json:"gender"`
}

// WirePhoto is the holder's photo, base64 in Data.
type WirePhoto struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
}

// WireAccessory is an extra product, shipped in its own parcel.
type WireAccessory struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// MaxMessageBytes bounds an input message: 200 cards with 5 MB photos would be absurd; a real order
// of a few dozen cards with 100–500 KB photos fits many times over.
const MaxMessageBytes = 64 << 20

// DecodeOrderApproved parses an input message strictly. On failure it returns the problems and
// whatever order id could be recovered (possibly empty), so the rejection can still be keyed.
func DecodeOrderApproved(data []byte) (*OrderApproved, Problems) {
	if len(data) > MaxMessageBytes {
		return nil, Problems{{Field: "(message)", Rule: "size", Message: fmt.Sprintf("message is %d bytes, at most %d allowed", len(data), MaxMessageBytes)}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m OrderApproved
	if err := dec.Decode(&m); err != nil {
		return nil, Problems{jsonProblem(err, data)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Problems{{Field: "(message)", Rule: "json", Message: "trailing data after the JSON object"}}
	}
	return &m, nil
}

// RecoverOrderID digs the order id out of a message that failed to decode, so that its rejection
// can be stored and reported under the id upstream knows. Empty if there is none.
func RecoverOrderID(data []byte) string {
	// Walk the top-level object token by token, so a message broken after its order_id (truncated,
	// a bad value further on) still names its order.
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "order_id" {
			v, err := dec.Token()
			id, ok := v.(string)
			if err != nil || !ok || checkOrderID(id) != nil {
				return ""
			}
			return id
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// indexedField is field ("cards.holder.birth_date", as encoding/json names it, without the index)
// with the index of the element of the top-level array it starts with that holds the byte at
// offset: "cards[3].holder.birth_date". Field comes back as it is when it names no top-level
// array, or the message cannot be walked to offset.
func indexedField(data []byte, field string, offset int64) string {
	name, rest, _ := strings.Cut(field, ".")
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return field
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return field
		}
		if key != name {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return field
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return field
		}
		for i := 0; dec.More(); i++ {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return field
			}
			if dec.InputOffset() >= offset {
				if rest == "" {
					return fmt.Sprintf("%s[%d]", name, i)
				}
				return fmt.Sprintf("%s[%d].%s", name, i, rest)
			}
		}
		return field
	}
	return field
}

func jsonProblem(err error, data []byte) Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Problem{Field: "(message)", Rule: "json", Message: fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(message)"
		} else {
			field = indexedField(data, field, typ.Offset)
		}
		return Problem{Field: field, Rule: "type", Message: fmt.Sprintf("must be %s, not JSON %s", typ.Type, typ.Value)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Problem{Field: "(message)", Rule: "json", Message: "empty or truncated JSON"}
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Problem{Field: strings.Trim(rest, `"`), Rule: "unknown-field", Message: "field is not part of OrderApproved v1"}
	}
	return Problem{Field: "(message)", Rule: "json", Message: msg}
}
