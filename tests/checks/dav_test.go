package checks

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentLines(t *testing.T) {
	p := contentLines("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc\r\nSUMMARY;LANGUAGE=fr:ostal ch\r\n eck\r\nDESCRIPTION:a:b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	assert.Equal(t, []string{"abc"}, p["UID"])
	assert.Equal(t, []string{"ostal check"}, p["SUMMARY"])
	assert.Equal(t, []string{"a:b"}, p["DESCRIPTION"])
	assert.Equal(t, []string{"VCALENDAR", "VEVENT"}, p["BEGIN"])
}

// reportAnswer is a calendar-query or addressbook-query answer as
// Radicale writes it, holding data.
func reportAnswer(t *testing.T, prop, ns string, data ...string) multistatus {
	var b strings.Builder
	b.WriteString(`<?xml version='1.0' encoding='utf-8'?><multistatus xmlns="DAV:" xmlns:X="` + ns + `">`)
	for _, d := range data {
		var esc strings.Builder
		require.NoError(t, xml.EscapeText(&esc, []byte(d)))
		b.WriteString(`<response><href>/u/c/x</href><propstat><prop><getetag>"1"</getetag><X:` + prop + `>` + esc.String() +
			`</X:` + prop + `></prop><status>HTTP/1.1 200 OK</status></propstat></response>`)
	}
	b.WriteString(`</multistatus>`)
	ms, err := parseMultistatus([]byte(b.String()))
	require.NoError(t, err)
	return ms
}

func TestFindItem(t *testing.T) {
	const caldav, carddav = "urn:ietf:params:xml:ns:caldav", "urn:ietf:params:xml:ns:carddav"
	ev := calendarKind.item("u-1", "ostal check u-1")
	assert.Contains(t, ev, "\r\nUID:u-1\r\n")
	ms := reportAnswer(t, "calendar-data", caldav, calendarKind.item("u-0", "other"), ev)
	assert.NoError(t, findItem(calendarKind, ms, "u-1", "ostal check u-1"))
	assert.EqualError(t, findItem(calendarKind, ms, "u-1", "changed"),
		`the calendar item u-1 has SUMMARY ["ostal check u-1"], expected "changed"`)
	assert.EqualError(t, findItem(calendarKind, ms, "u-2", "x"), `no item with UID u-2 among 2 answers (UIDs ["u-0" "u-1"])`)
	// Address data is not calendar data.
	assert.ErrorContains(t, findItem(calendarKind, reportAnswer(t, "address-data", carddav, ev), "u-1", "x"), "among 0 answers")

	card := contactsKind.item("c-1", "Ostal Check")
	ms = reportAnswer(t, "address-data", carddav, card)
	assert.NoError(t, findItem(contactsKind, ms, "c-1", "Ostal Check"))
	assert.ErrorContains(t, findItem(contactsKind, ms, "c-1", "Else"), `has FN ["Ostal Check"]`)
}

func TestResourceTypes(t *testing.T) {
	ms, err := parseMultistatus([]byte(`<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav">
<response><href>/u/a/</href><propstat><prop><resourcetype><collection/><C:calendar/></resourcetype></prop></propstat></response>
<response><href>/u/b/</href><propstat><prop><resourcetype><collection/><CR:addressbook/></resourcetype></prop></propstat></response>
</multistatus>`))
	require.NoError(t, err)
	require.Len(t, ms.Responses, 2)
	assert.NotNil(t, ms.Responses[0].Propstats[0].Prop.ResourceType.Calendar)
	assert.Nil(t, ms.Responses[0].Propstats[0].Prop.ResourceType.AddressBook)
	assert.NotNil(t, ms.Responses[1].Propstats[0].Prop.ResourceType.AddressBook)
	assert.NotNil(t, ms.Responses[1].Propstats[0].Prop.ResourceType.Collection)
}
