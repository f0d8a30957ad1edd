package shipping

import (
	"strings"
	"testing"
)

func TestAddressValidate(t *testing.T) {
	ok := Address{Name: "Bygg og Rør AS", Attention: "HR", Street: "Storgata 1", PostalCode: "0155", City: "OSLO", Country: "NO"}
	for _, tc := range []struct {
		name   string
		change func(*Address)
		fields []string // field:rule of every expected error, in order
	}{
		{"valid", func(*Address) {}, nil},
		{"Polish and Lithuanian letters, no attention", func(a *Address) {
			a.Name, a.Attention, a.Street = "Łukasz Żółć Šimkūnaitė Ąžuolų", "", "Ąžuolų gatvė 7–9"
		}, nil},
		{"name and street at their limits", func(a *Address) {
			a.Name = strings.Repeat("Æ", 30) + strings.Repeat(" ÆÆÆ", 17) + " Æ" // 100 runes
			a.Street = strings.Repeat("WWWW ", 19) + "WWWWW"                     // 100 runes
		}, nil},
		{"missing name, street, city", func(a *Address) { a.Name, a.Street, a.City = "", "", "" },
			[]string{"name:required", "street:required", "city:required"}},
		{"postal code missing", func(a *Address) { a.PostalCode = "" }, []string{"postal_code:postal-code"}},
		{"postal code of 5 digits", func(a *Address) { a.PostalCode = "01550" }, []string{"postal_code:postal-code"}},
		{"postal code with a letter", func(a *Address) { a.PostalCode = "O155" }, []string{"postal_code:postal-code"}},
		{"abroad", func(a *Address) { a.Country = "SE" }, []string{"country:country"}},
		{"name too long", func(a *Address) { a.Name = strings.Repeat("Ab ", 34) + "A" }, []string{"name:length"}},
		{"city too long", func(a *Address) { a.City = strings.Repeat("O", 41) }, []string{"city:length"}},
		{"word too long for one line", func(a *Address) { a.Street = strings.Repeat("g", 31) + " 1" }, []string{"street:word-length"}},
		{"newline in street", func(a *Address) { a.Street = "Storgata 1\nOppgang B" }, []string{"street:printable"}},
		{"untrimmed attention", func(a *Address) { a.Attention = " HR" }, []string{"attention:spacing"}},
		{"double space", func(a *Address) { a.Name = "Bygg  AS" }, []string{"name:spacing"}},
		{"decomposed ø (not NFC)", func(a *Address) { a.Name = "Bygg og Ro\u0338r" }, []string{"name:printable"}},
		{"Cyrillic the font cannot print", func(a *Address) { a.Attention = "Иван" }, []string{"attention:printable"}},
		{"invalid UTF-8", func(a *Address) { a.City = "OSL\xff" }, []string{"city:utf8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			tc.change(&a)
			err := a.Validate()
			var got []string
			for _, fe := range FieldErrors(err) {
				got = append(got, fe.Field+":"+fe.Rule)
				if !strings.Contains(err.Error(), fe.Field+": ") {
					t.Errorf("error text %q does not name field %s", err, fe.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("Validate() = %v\ngot  %v\nwant %v", err, got, tc.fields)
			}
			if (err == nil) != (len(tc.fields) == 0) {
				t.Errorf("Validate() = %v, want errors %v", err, tc.fields)
			}
		})
	}
}
