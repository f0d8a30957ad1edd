package shipping

import "testing"

// testSender is the return address on every test label.
var testSender = Address{Name: "Cardline Produksjon AS", Street: "Postboks 123 Sentrum", PostalCode: "0102", City: "OSLO", Country: "NO"}

func newTestLabeler(t testing.TB) *Labeler {
	t.Helper()
	l, err := NewLabeler(LabelConfig{Sender: testSender})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sampleLabels are a letter to a long Polish/Lithuanian/Norwegian address and a parcel.
func sampleLabels() []Label {
	to := Address{
		Name:       "Bygg og Rør Østlandet AS avd. Łódź–Šiauliai Entreprenørforretning",
		Attention:  "HR v/ Żaneta Grzegorzewska-Jankauskienė",
		Street:     "Kåre Wøllers gate 17 B",
		PostalCode: "0155", City: "OSLO", Country: "NO",
	}
	return []Label{
		{Kind: LetterLabel, ID: "E100000001601", OrderID: "A-2026-0001234", To: to, Content: "HMS-kort 1 av 3"},
		{Kind: ParcelLabel, ID: "P100000001601", OrderID: "A-2026-0001234", To: to, Content: "Pakke: 2 × cardholder, 1 × lanyard"},
	}
}
