package checks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Calendars and contacts: Radicale at https://dav.D/NAME/ keeps each
// member's calendars and address books.
func init() {
	Default.Register(Check{Name: "dav.calendar", Summary: "a member makes a calendar, stores an event and finds it again with a CalDAV query",
		Timeout: 2 * time.Minute, Services: []string{"dav", "tls"}, Run: checkDAVCalendar,
		Writes: "a member account with a calendar and an event, removed at the end"})
	Default.Register(Check{Name: "dav.contacts", Summary: "a member makes an address book, stores a contact and finds it again with a CardDAV query",
		Timeout: 2 * time.Minute, Services: []string{"dav", "tls"}, Run: checkDAVContacts,
		Writes: "a member account with an address book and a contact, removed at the end"})
}

// davKind is what differs between a calendar and an address book.
type davKind struct {
	what        string // "calendar"
	mkcol       string // the extended MKCOL body
	itemExt     string // ".ics"
	contentType string
	item        func(uid, summary string) string
	report      string // the query REPORT body
	dataOf      func(ms multistatus) []string
	summaryProp string // the property that carries summary
}

var calendarKind = davKind{
	what: "calendar",
	mkcol: `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:calendar/></D:resourcetype>
    <D:displayname>ostal check</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</D:mkcol>`,
	itemExt:     ".ics",
	contentType: "text/calendar; charset=utf-8",
	item: func(uid, summary string) string {
		now := time.Now().UTC()
		start := now.Add(24 * time.Hour).Truncate(time.Hour)
		return strings.ReplaceAll(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ostal//checks//EN
BEGIN:VEVENT
UID:`+uid+`
DTSTAMP:`+now.Format("20060102T150405Z")+`
DTSTART:`+start.Format("20060102T150405Z")+`
DTEND:`+start.Add(time.Hour).Format("20060102T150405Z")+`
SUMMARY:`+summary+`
END:VEVENT
END:VCALENDAR
`, "\n", "\r\n")
	},
	report: `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>`,
	dataOf: func(ms multistatus) []string {
		var out []string
		for _, r := range ms.Responses {
			for _, ps := range r.Propstats {
				if ps.Prop.CalendarData != "" {
					out = append(out, ps.Prop.CalendarData)
				}
			}
		}
		return out
	},
	summaryProp: "SUMMARY",
}

var contactsKind = davKind{
	what: "address book",
	mkcol: `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
    <D:displayname>ostal check</D:displayname>
  </D:prop></D:set>
</D:mkcol>`,
	itemExt:     ".vcf",
	contentType: "text/vcard; charset=utf-8",
	item: func(uid, summary string) string {
		return strings.ReplaceAll(`BEGIN:VCARD
VERSION:3.0
UID:`+uid+`
FN:`+summary+`
N:Check;Ostal;;;
EMAIL;TYPE=INTERNET:check@example.org
END:VCARD
`, "\n", "\r\n")
	},
	report: `<?xml version="1.0" encoding="utf-8"?>
<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><CR:address-data/></D:prop>
</CR:addressbook-query>`,
	dataOf: func(ms multistatus) []string {
		var out []string
		for _, r := range ms.Responses {
			for _, ps := range r.Propstats {
				if ps.Prop.AddressData != "" {
					out = append(out, ps.Prop.AddressData)
				}
			}
		}
		return out
	},
	summaryProp: "FN",
}

// contentLines unfolds iCalendar/vCard text (RFC 5545 3.1) and maps each
// property name to its values.
func contentLines(text string) map[string][]string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n ", "")
	text = strings.ReplaceAll(text, "\n\t", "")
	props := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		i := strings.IndexAny(line, ":;")
		if i <= 0 {
			continue
		}
		j := strings.Index(line, ":")
		if j < 0 {
			continue
		}
		name := strings.ToUpper(line[:i])
		props[name] = append(props[name], line[j+1:])
	}
	return props
}

// findItem looks in a query's answers for the item with uid and checks
// its summary property.
func findItem(k davKind, ms multistatus, uid, summary string) error {
	data := k.dataOf(ms)
	var uids []string
	for _, d := range data {
		p := contentLines(d)
		for _, u := range p["UID"] {
			uids = append(uids, u)
			if u != uid {
				continue
			}
			got := p[k.summaryProp]
			if len(got) != 1 || got[0] != summary {
				return fmt.Errorf("the %s item %s has %s %q, expected %q", k.what, uid, k.summaryProp, got, summary)
			}
			return nil
		}
	}
	return fmt.Errorf("no item with UID %s among %d answers (UIDs %q)", uid, len(data), uids)
}

func checkDAVCalendar(ctx context.Context, m Machine) error {
	return checkDAVKind(ctx, m, calendarKind)
}

func checkDAVContacts(ctx context.Context, m Machine) error {
	return checkDAVKind(ctx, m, contactsKind)
}

func checkDAVKind(ctx context.Context, m Machine, k davKind) (err error) {
	host, mb, remove, err := memberOf(ctx, m, "dav")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := remove(); err == nil {
			err = rerr
		}
		err = hideSecrets(err, mb.password)
	}()
	principal := SiteURL(m, host, mb.name+"/")

	// Visitors see nothing.
	anon := newDAVClient(ctx, m, "", "")
	if r, err := anon.expect("PROPFIND", principal, []byte(propfindBody),
		map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, http.StatusUnauthorized); err != nil {
		return err
	} else if !strings.Contains(strings.ToLower(r.Header.Get("WWW-Authenticate")), "basic") {
		return fmt.Errorf("PROPFIND %s anonymously: 401 without a WWW-Authenticate: Basic challenge (got %q)", principal, r.Header.Get("WWW-Authenticate"))
	}

	c := newDAVClient(ctx, m, mb.name, mb.password)
	collection := principal + newUUID() + "/"
	start := time.Now()
	if _, err := c.expect("MKCOL", collection, []byte(k.mkcol),
		map[string]string{"Content-Type": "application/xml; charset=utf-8"}, http.StatusCreated); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		cc := *c
		cc.ctx = cctx
		if _, derr := cc.expect(http.MethodDelete, collection, nil, nil, http.StatusOK, http.StatusNoContent); err == nil {
			err = derr
		}
		// Radicale made the member's principal collection on their first
		// request; ostal-member remove does not touch it.
		if problem := deleted(&cc, principal); problem != "" {
			m.Note("could not delete the member's principal collection %s: %s", principal, problem)
		}
	}()

	// The collection is of the kind asked for.
	r, err := c.expect("PROPFIND", collection, []byte(propfindBody),
		map[string]string{"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}, http.StatusMultiStatus)
	if err != nil {
		return err
	}
	ms, err := parseMultistatus(r.Body)
	if err != nil {
		return fmt.Errorf("PROPFIND %s: %w", collection, err)
	}
	isKind := false
	for _, resp := range ms.Responses {
		for _, ps := range resp.Propstats {
			rt := ps.Prop.ResourceType
			isKind = isKind || (k.what == "calendar" && rt.Calendar != nil) || (k.what != "calendar" && rt.AddressBook != nil)
		}
	}
	if !isKind {
		return fmt.Errorf("PROPFIND %s: the new collection's resourcetype is not a %s; the MKCOL body was ignored", collection, k.what)
	}

	uid := newUUID()
	summary := "ostal check " + uid[:8]
	item := collection + uid + k.itemExt
	if _, err := c.expect(http.MethodPut, item, []byte(k.item(uid, summary)),
		map[string]string{"Content-Type": k.contentType, "If-None-Match": "*"}, http.StatusCreated, http.StatusNoContent); err != nil {
		return err
	}
	if r, err = c.expect("REPORT", collection, []byte(k.report),
		map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, http.StatusMultiStatus); err != nil {
		return err
	}
	if ms, err = parseMultistatus(r.Body); err != nil {
		return fmt.Errorf("REPORT %s: %w", collection, err)
	}
	if err := findItem(k, ms, uid, summary); err != nil {
		return fmt.Errorf("REPORT %s: %w", collection, err)
	}
	m.Note("MKCOL, PUT and REPORT in a new %s as %s in %.1f s", k.what, mb.name, time.Since(start).Seconds())
	return nil
}
