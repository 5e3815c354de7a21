package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Wiki: MediaWiki at https://wiki.D. Everybody reads; only accounts edit
// and upload.
func init() {
	Default.Register(Check{Name: "wiki.edit", Summary: "Admin logs in to the API and makes a page that a visitor then reads",
		Timeout: 3 * time.Minute, Services: []string{"wiki", "tls"}, Run: checkWikiEdit,
		Writes: "a wiki page, which visitors can read until it is deleted at the end; its creation and deletion stay in Recent changes and the deletion log"})
	Default.Register(Check{Name: "wiki.upload", Summary: "Admin uploads a PNG through the API; a visitor downloads the same bytes",
		Timeout: 3 * time.Minute, Services: []string{"wiki", "tls"}, Run: checkWikiUpload,
		Writes: "an uploaded image and its file page, deleted at the end; the upload and the deletion stay in Recent changes and the logs"})
	Default.Register(Check{Name: "wiki.anonymous-edit-refused", Summary: "a visitor may neither edit, create pages, upload nor make an account",
		Timeout: 2 * time.Minute, Services: []string{"wiki", "tls"}, Run: checkWikiAnonymousEdit})
}

// wikiAPI talks to MediaWiki's action API (api.php) as one identity: its
// own client, so its cookies are its session.
type wikiAPI struct {
	ctx    context.Context
	client *http.Client
	url    string // https://wiki.D/api.php
}

func newWikiAPI(ctx context.Context, m Machine, host string) *wikiAPI {
	return &wikiAPI{ctx: ctx, client: WebClient(m), url: SiteURL(m, host, "api.php")}
}

// wikiAnswer is the part of an API answer the checks read.
type wikiAnswer struct {
	Error *struct {
		Code string `json:"code"`
		Info string `json:"info"`
	} `json:"error"`
	Query struct {
		Tokens struct {
			Login string `json:"logintoken"`
			CSRF  string `json:"csrftoken"`
		} `json:"tokens"`
		UserInfo struct {
			Name   string   `json:"name"`
			Anon   bool     `json:"anon"`
			Rights []string `json:"rights"`
		} `json:"userinfo"`
		Pages []struct {
			Title   string `json:"title"`
			Missing bool   `json:"missing"`
		} `json:"pages"`
	} `json:"query"`
	ClientLogin struct {
		Status   string `json:"status"`
		Message  string `json:"message"`
		Username string `json:"username"`
	} `json:"clientlogin"`
	Edit struct {
		Result string `json:"result"`
		PageID int    `json:"pageid"`
		Title  string `json:"title"`
	} `json:"edit"`
	Upload struct {
		Result    string `json:"result"`
		Filename  string `json:"filename"`
		ImageInfo struct {
			URL  string `json:"url"`
			Size int    `json:"size"`
			Mime string `json:"mime"`
		} `json:"imageinfo"`
		Warnings map[string]any `json:"warnings"`
	} `json:"upload"`
	Delete struct {
		Title string `json:"title"`
	} `json:"delete"`
}

// call sends one API request: a GET of params when body is nil, else a
// POST of body, of type contentType.
func (w *wikiAPI) call(action string, params url.Values, body []byte, contentType string) (wikiAnswer, error) {
	q := url.Values{"action": {action}, "format": {"json"}, "formatversion": {"2"}}
	for k, v := range params {
		q[k] = v
	}
	call := webCall{Method: http.MethodGet, URL: w.url + "?" + q.Encode()}
	if body != nil {
		call = webCall{Method: http.MethodPost, URL: w.url + "?" + q.Encode(), Body: body,
			Header: map[string]string{"Content-Type": contentType}}
	}
	r, err := doWeb(w.ctx, w.client, call)
	if err != nil {
		return wikiAnswer{}, err
	}
	if r.Status != http.StatusOK {
		return wikiAnswer{}, fmt.Errorf("api.php action=%s: %s", action, r)
	}
	var a wikiAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return wikiAnswer{}, fmt.Errorf("api.php action=%s: the answer is not JSON: %v; it starts %q", action, err, clip(string(r.Body), 120))
	}
	return a, nil
}

// post sends a form.
func (w *wikiAPI) post(action string, form url.Values) (wikiAnswer, error) {
	return w.call(action, nil, []byte(form.Encode()), "application/x-www-form-urlencoded")
}

func (w *wikiAPI) get(action string, params url.Values) (wikiAnswer, error) {
	return w.call(action, params, nil, "")
}

func (a wikiAnswer) err(what string) error {
	if a.Error == nil {
		return nil
	}
	return fmt.Errorf("%s: MediaWiki says %s: %s", what, a.Error.Code, a.Error.Info)
}

// login logs in as user with clientlogin and returns a CSRF token for
// the session.
func (w *wikiAPI) login(user, password string) (string, error) {
	a, err := w.get("query", url.Values{"meta": {"tokens"}, "type": {"login"}})
	if err != nil {
		return "", err
	}
	if err := a.err("get a login token"); err != nil {
		return "", err
	}
	if a.Query.Tokens.Login == "" {
		return "", fmt.Errorf("api.php gave no login token")
	}
	a, err = w.post("clientlogin", url.Values{"username": {user}, "password": {password},
		"logintoken": {a.Query.Tokens.Login}, "loginreturnurl": {strings.TrimSuffix(w.url, "api.php")}})
	if err != nil {
		return "", err
	}
	if err := a.err("log in as " + user); err != nil {
		return "", err
	}
	if a.ClientLogin.Status != "PASS" {
		return "", fmt.Errorf("log in as %s: status %q: %s", user, a.ClientLogin.Status, a.ClientLogin.Message)
	}
	return w.csrf()
}

func (w *wikiAPI) csrf() (string, error) {
	a, err := w.get("query", url.Values{"meta": {"tokens"}})
	if err != nil {
		return "", err
	}
	if err := a.err("get a CSRF token"); err != nil {
		return "", err
	}
	if a.Query.Tokens.CSRF == "" {
		return "", fmt.Errorf("api.php gave no CSRF token")
	}
	return a.Query.Tokens.CSRF, nil
}

// wikiAdmin is the wiki's host and an API session of Admin with its CSRF
// token.
func wikiAdmin(ctx context.Context, m Machine) (host string, api *wikiAPI, token, password string, err error) {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return "", nil, "", "", err
	}
	if host, err = site.Name("wiki"); err != nil {
		return "", nil, "", "", err
	}
	if password, err = guestSecret(ctx, m, "wiki-admin"); err != nil {
		return "", nil, "", "", err
	}
	api = newWikiAPI(ctx, m, host)
	token, err = api.login("Admin", password)
	return host, api, token, password, hideSecrets(err, password)
}

// wikiDelete deletes a page (or a file's page and the file), even after the
// check's context has ended; a failure becomes a note.
func wikiDelete(ctx context.Context, m Machine, api *wikiAPI, token, title string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	w := *api
	w.ctx = cctx
	a, err := w.post("delete", url.Values{"title": {title}, "reason": {"ostal check clean-up"}, "token": {token}})
	if err == nil {
		err = a.err("delete " + title)
	}
	if err != nil {
		m.Note("could not delete %s: %v", title, err)
	}
}

func checkWikiEdit(ctx context.Context, m Machine) error {
	start := time.Now()
	host, api, token, password, err := wikiAdmin(ctx, m)
	if err != nil {
		return err
	}
	m.Note("logged in as Admin in %.1f s", time.Since(start).Seconds())
	title := "Ostal check " + randomHex(6)
	text := "ostal-check-" + randomHex(12)
	defer wikiDelete(ctx, m, api, token, title)
	start = time.Now()
	a, err := api.post("edit", url.Values{"title": {title}, "text": {"Page written by the check wiki.edit: " + text},
		"summary": {"ostal check"}, "createonly": {"1"}, "token": {token}})
	if err != nil {
		return hideSecrets(err, password)
	}
	if err := a.err("create the page " + title); err != nil {
		return err
	}
	if a.Edit.Result != "Success" {
		return fmt.Errorf("create the page %s: result %q, expected Success", title, a.Edit.Result)
	}
	m.Note("made the page %q in %.1f s", title, time.Since(start).Seconds())

	// A visitor, with no cookie of Admin's, reads it at its address.
	page := SiteURL(m, host, "wiki/"+url.PathEscape(strings.ReplaceAll(title, " ", "_")))
	start = time.Now()
	r, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: page})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("GET %s as a visitor: %s, expected 200", page, r)
	}
	if !bytes.Contains(r.Body, []byte(text)) {
		return fmt.Errorf("GET %s as a visitor: 200 but the page does not hold the text written (%s); it starts %q",
			page, text, clip(string(r.Body), 200))
	}
	m.Note("a visitor read it at %s in %.1f s", page, time.Since(start).Seconds())
	return nil
}

// testPNG is a small PNG of random pixels: never the same bytes twice, so
// MediaWiki never finds it a duplicate.
func testPNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	noise := []byte(randomHex(16 * 16 * 2))
	for i := range 16 * 16 {
		img.Set(i%16, i/16, color.RGBA{noise[2*i], noise[2*i+1], byte(i), 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func checkWikiUpload(ctx context.Context, m Machine) error {
	host, api, token, password, err := wikiAdmin(ctx, m)
	if err != nil {
		return err
	}
	content, err := testPNG()
	if err != nil {
		return err
	}
	name := "Ostal_check_" + randomHex(6) + ".png"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"filename": name, "comment": "ostal check", "ignorewarnings": "1", "token": token} {
		mw.WriteField(k, v)
	}
	part, _ := mw.CreateFormFile("file", name)
	part.Write(content)
	mw.Close()
	defer wikiDelete(ctx, m, api, token, "File:"+name)
	start := time.Now()
	a, err := api.call("upload", nil, body.Bytes(), mw.FormDataContentType())
	if err != nil {
		return hideSecrets(err, password)
	}
	if err := a.err("upload " + name); err != nil {
		return err
	}
	if a.Upload.Result != "Success" {
		return fmt.Errorf("upload %s: result %q (warnings %v), expected Success", name, a.Upload.Result, a.Upload.Warnings)
	}
	m.Note("uploaded %d bytes as File:%s in %.1f s", len(content), a.Upload.Filename, time.Since(start).Seconds())

	fileURL := a.Upload.ImageInfo.URL
	u, err := url.Parse(fileURL)
	if err != nil || fileURL == "" {
		return fmt.Errorf("upload %s: the answer gives the file's address %q, expected a URL", name, fileURL)
	}
	if u.Host == "" {
		fileURL = SiteURL(m, host, u.Path)
	} else if !strings.EqualFold(u.Hostname(), host) {
		return fmt.Errorf("upload %s: the file's address %s is not on %s", name, fileURL, host)
	}
	r, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: fileURL})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("GET %s as a visitor: %s, expected 200", fileURL, r)
	}
	if !bytes.Equal(r.Body, content) {
		return fmt.Errorf("GET %s as a visitor: %d bytes, not the %d bytes uploaded", fileURL, len(r.Body), len(content))
	}
	if ct := r.Header.Get("Content-Type"); ct != "image/png" {
		return fmt.Errorf("GET %s: Content-Type %q, expected image/png", fileURL, ct)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		return fmt.Errorf("GET %s: no X-Content-Type-Options: nosniff on an uploaded file", fileURL)
	}
	m.Note("a visitor downloaded the same bytes from %s", fileURL)
	return nil
}

func checkWikiAnonymousEdit(ctx context.Context, m Machine) error {
	host, err := siteName(ctx, m, "wiki")
	if err != nil {
		return err
	}
	anon := newWikiAPI(ctx, m, host)
	a, err := anon.get("query", url.Values{"meta": {"userinfo"}, "uiprop": {"rights"}})
	if err != nil {
		return err
	}
	if err := a.err("read a visitor's rights"); err != nil {
		return err
	}
	if !a.Query.UserInfo.Anon {
		return fmt.Errorf("a fresh client is not anonymous to the wiki: it is %q", a.Query.UserInfo.Name)
	}
	if !slices.Contains(a.Query.UserInfo.Rights, "read") {
		return fmt.Errorf("visitors may not read the wiki; their rights are %v", a.Query.UserInfo.Rights)
	}
	var granted []string
	for _, right := range []string{"edit", "createpage", "createtalk", "upload", "createaccount"} {
		if slices.Contains(a.Query.UserInfo.Rights, right) {
			granted = append(granted, right)
		}
	}
	if len(granted) > 0 {
		return fmt.Errorf("visitors have the rights %v; only members with an account may edit, upload or make accounts", granted)
	}

	// And the API refuses an actual attempt.
	token, err := anon.csrf()
	if err != nil {
		return err
	}
	title := "Ostal anonymous check " + randomHex(6)
	a, err = anon.post("edit", url.Values{"title": {title}, "text": {"written by a visitor"}, "token": {token}})
	if err != nil {
		return err
	}
	if a.Error == nil {
		return fmt.Errorf("a visitor's edit of %q was not refused: result %q", title, a.Edit.Result)
	}
	m.Note("a visitor's edit was refused: %s", a.Error.Code)
	a, err = anon.get("query", url.Values{"titles": {title}})
	if err != nil {
		return err
	}
	if len(a.Query.Pages) != 1 || !a.Query.Pages[0].Missing {
		return fmt.Errorf("the page %q exists after a visitor's refused edit", title)
	}
	return nil
}
