package deploy

import (
	"encoding/xml"
	"fmt"
	"time"
)

// MetadataNS is the XML namespace of ostal's record in the domain's
// metadata: any admin reads it with `virsh metadata DOMAIN --uri ...` or
// `virsh dumpxml`, and it outlives the machine ostal ran on.
const MetadataNS = "https://ostal.invalid/xmlns/deploy/1"

// metadataKey is the namespace prefix libvirt writes.
const metadataKey = "ostal"

// State is everything ostal records about a deployed domain.
type State struct {
	XMLName xml.Name `json:"-"`
	// Current is the image the domain runs (or last ran) after the last
	// finished swap; Previous the one before, kept for rollback.
	Current  *Release `xml:"current,omitempty" json:"current,omitempty"`
	Previous *Release `xml:"previous,omitempty" json:"previous,omitempty"`
	// Lock is held for the whole of a swap, by one operator.
	Lock *Lock `xml:"lock,omitempty" json:"lock,omitempty"`
	// Journal is the swap in progress, written before each step.
	Journal *Journal `xml:"journal,omitempty" json:"journal,omitempty"`
	History []Swap   `xml:"history>swap" json:"history"`
	// GuestKey is the guest's SSH host key (it lives on the data volume,
	// so it stays across swaps), learnt on the first deployment.
	GuestKey string `xml:"guest-key,omitempty" json:"guest_key,omitempty"`
}

// Release is one image in the pool, as deployed.
type Release struct {
	Digest  string `xml:"digest,attr" json:"digest"`   // sha256 of the qcow2
	Volume  string `xml:"volume,attr" json:"volume"`   // its volume in the pool
	Overlay string `xml:"overlay,attr" json:"overlay"` // the domain's writable layer on it
	Name    string `xml:"name,attr" json:"name"`       // the spec's name
	Commit  string `xml:"commit,attr,omitempty" json:"commit,omitempty"`
	// Serves is the DNS domain the image was built for; Size the disk
	// the guest sees.
	Serves string `xml:"serves,attr,omitempty" json:"serves,omitempty"`
	Size   uint64 `xml:"size,attr" json:"size"`
	// Services decide which of the environment's checks apply.
	Services []string  `xml:"service" json:"services,omitempty"`
	Since    time.Time `xml:"since,attr" json:"since"`
}

// Lock names who swaps, so a second operator is told and refused.
type Lock struct {
	Who  string `xml:"who,attr" json:"who"` // user@host
	PID  int    `xml:"pid,attr" json:"pid"`
	Host string `xml:"host,attr" json:"host"`
	// Machine is the holder's /etc/machine-id (host names repeat);
	// Token is its run's own, to tell two runs on one machine apart.
	Machine string `xml:"machine,attr,omitempty" json:"machine,omitempty"`
	Token   string `xml:"token,attr" json:"token"`
	// Since is when the swap began; Beat is renewed while it runs, so a
	// lock whose holder died is recognised.
	Since time.Time `xml:"since,attr" json:"since"`
	Beat  time.Time `xml:"beat,attr" json:"beat"`
}

// Journal is a swap in progress: Step is the last step begun.
type Journal struct {
	ID      string    `xml:"id,attr" json:"id"`
	Who     string    `xml:"who,attr" json:"who"` // who asked for the swap`
	Step    Step      `xml:"step,attr" json:"step"`
	Started time.Time `xml:"started,attr" json:"started"`
	Stopped time.Time `xml:"stopped,attr,omitempty" json:"stopped,omitempty"` // when the guest went down
	// Booted is when the new image was first started: what it may have
	// written since is the swap's age, whatever the heartbeat says.
	Booted   time.Time `xml:"booted,attr,omitempty" json:"booted,omitempty"`
	Snapshot string    `xml:"snapshot,attr,omitempty" json:"snapshot,omitempty"`
	From     *Release  `xml:"from,omitempty" json:"from,omitempty"`
	To       Release   `xml:"to" json:"to"`
	// Reuse keeps the overlay of To: going back to an image.
	Reuse bool `xml:"reuse,attr,omitempty" json:"reuse,omitempty"`
	// Snapshotted: the snapshot was taken. Reverted: a rollback has put
	// the disks back (or, KeepData, decided not to), never to do it twice.
	Snapshotted bool `xml:"snapshotted,attr,omitempty" json:"snapshotted,omitempty"`
	Reverted    bool `xml:"reverted,attr,omitempty" json:"reverted,omitempty"`
	KeepData    bool `xml:"keep-data,attr,omitempty" json:"keep_data,omitempty"`
	// SnapshotAt is when the snapshot was taken: the data a later
	// `rollback --restore-data` would bring back are those of then.
	SnapshotAt *time.Time `xml:"snapshot-at,attr,omitempty" json:"snapshot_at,omitempty"`
	// RestoreFrom names the snapshot of an earlier swap whose data
	// volumes this swap (a rollback with --restore-data) puts back after
	// taking its own; Restored says it did, never to do it twice.
	RestoreFrom string `xml:"restore-from,attr,omitempty" json:"restore_from,omitempty"`
	Restored    bool   `xml:"restored,attr,omitempty" json:"restored,omitempty"`
	// Rollback is why the swap is being undone, once it is.
	Rollback string `xml:"rollback,omitempty" json:"rollback,omitempty"`
}

// Result is how a swap ended, as its history line says. The values are
// those of the records already written into domains' metadata: never
// change one.
type Result string

const (
	ResultOK         Result = "ok"
	ResultRolledBack Result = "rolled back"
	// ResultUndone: interrupted, or failed, before the guest stopped.
	ResultUndone Result = "undone"
	// ResultFailed: a first deployment that is not healthy.
	ResultFailed Result = "failed"
)

// Swap is one line of history.
type Swap struct {
	ID       string    `xml:"id,attr" json:"id"`
	Who      string    `xml:"who,attr" json:"who"`
	Started  time.Time `xml:"started,attr" json:"started"`
	Finished time.Time `xml:"finished,attr" json:"finished"`
	From     string    `xml:"from,attr,omitempty" json:"from,omitempty"` // digest
	To       string    `xml:"to,attr" json:"to"`
	Result   Result    `xml:"result,attr" json:"result"`
	Downtime float64   `xml:"downtime,attr" json:"downtime_seconds"`
	// SnapshotAt is when the swap's snapshot of the disks (snapshot
	// "ostal-" + ID) was taken; nil if it took none, or in the history
	// an older ostal wrote.
	SnapshotAt *time.Time `xml:"snapshot-at,attr,omitempty" json:"snapshot_at,omitempty"`
	// RestoredFrom is the snapshot whose data a rollback with
	// --restore-data put back.
	RestoredFrom string `xml:"restored-from,attr,omitempty" json:"restored_from,omitempty"`
	Detail       string `xml:",chardata" json:"detail,omitempty"`
}

func parseState(inner string) (*State, error) {
	s := &State{}
	if inner == "" {
		return s, nil
	}
	if err := xml.Unmarshal([]byte(inner), s); err != nil {
		return nil, fmt.Errorf("the domain's ostal metadata is not readable (%w); it starts %.80q", err, inner)
	}
	return s, nil
}

// xml is the metadata element, in ostal's namespace.
func (s *State) xml() (string, error) {
	c := *s
	c.XMLName = xml.Name{Space: MetadataNS, Local: "deploy"}
	b, err := xml.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("render the deploy record: %w", err)
	}
	return string(b), nil
}

// Short is the first 12 hex digits of a digest, as people read it.
func Short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
