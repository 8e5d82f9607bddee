package mappings

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// BaRS (the NHS Booking and Referral Standard, v1.4.0) sends a referral as
// a FHIR message: a Bundle of type message whose first entry is a
// MessageHeader with the event servicerequest-request, focused on the
// ServiceRequest, which names its Patient (subject) and Encounter. The
// gateway keeps those three, as a REST intake would: BaRSMessageIn turns
// the message into the transaction Bundle records.Service runs. Why each
// rule is what it is: docs/bars.md.
const (
	// BaRSEventSystem is the code system of BaRS message events
	// (MessageHeader.eventCoding.system).
	BaRSEventSystem = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
	// BaRSEventReferral is the one event the gateway takes: a referral.
	BaRSEventReferral = "servicerequest-request"
	// BaRSReasonSystem is the code system of MessageHeader.reason.
	BaRSReasonSystem = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
	// BaRSReasonNew is the reason of a new referral.
	BaRSReasonNew = "new"
)

// BaRSHeader is what a message says about itself, as far as it could be
// read: enough to answer it with a response message even when it is
// refused. ID is "" when there is no message to answer.
type BaRSHeader struct {
	// ID is the message's id: MessageHeader.id or, when the sender left
	// it out (as the BaRS v1.4.0 examples do), the UUID of the
	// MessageHeader entry's urn:uuid fullUrl.
	ID string
	// EventSystem and EventCode are MessageHeader.eventCoding.
	EventSystem, EventCode string
	// Source is MessageHeader.source.endpoint.
	Source string
	// Destinations are MessageHeader.destination.endpoint.
	Destinations []string
}

// BaRSMessage is a BaRS referral on its way into the record.
type BaRSMessage struct {
	Header BaRSHeader
	// Transaction is a transaction Bundle of the Patient, the Encounter
	// and the ServiceRequest, in that order, each a POST (conditional on
	// its first identifier, so a second referral for the same patient or
	// encounter joins the case the record holds).
	Transaction []byte
	// entryOf is the message entry each transaction entry came from.
	entryOf []int
}

// messageHeaderPath is the MessageHeader's FHIRPath in a message Bundle.
const messageHeaderPath = "Bundle.entry[0].resource"

// BaRSMessageIn validates a BaRS referral message (as base R4 and the
// gateway's own rules, fhir.Validate) and maps it to the transaction the
// record runs. Every refusal is a *discharge.Error whose issues name the
// element in the message. The returned Header is filled as far as the
// body could be read, refused or not.
func BaRSMessageIn(raw []byte, lim fhir.Limits) (BaRSMessage, error) {
	parsed, verr := fhir.Validate(raw, "Bundle", lim)
	var doc map[string]any
	if verr == nil {
		doc = parsed.Doc
	} else if d, err := fhir.DecodeDoc(raw); err == nil {
		doc = d
	}
	m := BaRSMessage{Header: readHeader(doc)}
	if verr != nil {
		return m, verr
	}
	if t := fhir.BundleType(doc); t != "message" {
		return m, discharge.E(discharge.KindValue, "Bundle.type",
			"$process-message takes a Bundle of type message, not "+strconv.Quote(t)+".")
	}
	entries, _ := doc["entry"].([]any)
	if len(entries) == 0 {
		return m, discharge.E(discharge.KindRequired, "Bundle.entry", "A message Bundle starts with its MessageHeader.")
	}
	mh := entryResource(entries[0])
	if rt, _ := mh["resourceType"].(string); rt != "MessageHeader" {
		return m, discharge.E(discharge.KindInvalid, messageHeaderPath+".resourceType",
			"A message Bundle's first entry is its MessageHeader.")
	}
	if err := checkEvent(mh); err != nil {
		return m, err
	}
	if m.Header.ID == "" {
		return m, discharge.E(discharge.KindRequired, messageHeaderPath+".id",
			"The MessageHeader needs an id (or a urn:uuid fullUrl): a re-sent message is recognised by it.")
	}
	byURL := map[string]int{}
	for i, e := range entries {
		if u, _ := entryMap(e)["fullUrl"].(string); u != "" {
			byURL[u] = i
		}
	}
	// The ServiceRequest the message is about, its Patient and Encounter.
	sr, err := focusEntry(mh, entries, byURL)
	if err != nil {
		return m, err
	}
	srPath := entryPath(sr)
	pat, err := referredEntry(entries, byURL, sr, "subject", "Patient")
	if err != nil {
		return m, err
	}
	enc, err := referredEntry(entries, byURL, sr, "encounter", "Encounter")
	if err != nil {
		return m, err
	}
	encDoc := entryResource(entries[enc])
	if ref, _ := ElementReference(encDoc, "subject"); ref != "" && byURL[ref] != pat {
		return m, discharge.E(discharge.KindInvalid, entryPath(enc)+".subject.reference",
			"The Encounter's subject must be the referral's Patient ("+srPath+".subject).")
	}
	carried := []int{pat, enc, sr}
	keep := map[string]bool{}
	for _, i := range carried {
		keep[entryFullURL(entries[i])] = true
	}
	var issues discharge.Issues
	tx := make([]any, 0, len(carried))
	for _, i := range carried {
		res := entryResource(entries[i])
		localReferences(res, entryPath(i), entries, byURL, keep, &issues)
		req := map[string]any{"method": "POST", "url": res["resourceType"]}
		if cond := identifierCondition(res); cond != "" {
			req["ifNoneExist"] = cond
		}
		e := map[string]any{"resource": res, "request": req}
		if u := entryFullURL(entries[i]); u != "" {
			e["fullUrl"] = u
		}
		tx = append(tx, e)
	}
	if err := issues.Err(discharge.KindInvalid, "bars message"); err != nil {
		return m, err
	}
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": tx})
	if err != nil {
		return m, discharge.Wrap(discharge.KindInternal, "bars message", err)
	}
	m.Transaction, m.entryOf = body, carried
	return m, nil
}

// EntryPath is the FHIRPath, in the message, of the resource the record
// stored as typ ("Patient", "Encounter" or "ServiceRequest"), "" for
// another type.
func (m BaRSMessage) EntryPath(typ string) string {
	for i, t := range []string{"Patient", "Encounter", "ServiceRequest"} {
		if t == typ && i < len(m.entryOf) {
			return entryPath(m.entryOf[i])
		}
	}
	return ""
}

// Rebase names the record's verdict on the transaction at the message's
// own elements: Bundle.entry[i] of the transaction becomes the message
// entry it came from, and what the gateway put in the entry's request (the
// identifier condition) becomes the resource's identifier.
func (m BaRSMessage) Rebase(err error) error {
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) == 0 {
		return err
	}
	out := *de
	out.Issues = make([]discharge.Issue, len(de.Issues))
	for k, is := range de.Issues {
		is.Expression = m.rebaseExpression(is.Expression)
		out.Issues[k] = is
	}
	return &out
}

func (m BaRSMessage) rebaseExpression(ex string) string {
	const prefix = "Bundle.entry["
	if !strings.HasPrefix(ex, prefix) {
		return ex
	}
	end := strings.IndexByte(ex, ']')
	if end < len(prefix) {
		return ex
	}
	i, err := strconv.Atoi(ex[len(prefix):end])
	if err != nil || i < 0 || i >= len(m.entryOf) {
		return ex
	}
	rest := ex[end+1:]
	switch {
	case strings.HasPrefix(rest, ".request.ifNoneExist"):
		rest = ".resource.identifier"
	case strings.HasPrefix(rest, ".request"), rest == "":
		rest = ".resource"
	}
	return fmt.Sprintf("Bundle.entry[%d]%s", m.entryOf[i], rest)
}

// checkEvent accepts the BaRS referral event only.
func checkEvent(mh map[string]any) error {
	if _, ok := mh["eventUri"]; ok {
		return discharge.E(discharge.KindNotSupported, messageHeaderPath+".eventUri",
			"BaRS messages name their event with eventCoding ("+BaRSEventSystem+").")
	}
	ec, _ := mh["eventCoding"].(map[string]any)
	sys, _ := ec["system"].(string)
	code, _ := ec["code"].(string)
	switch {
	case ec == nil:
		return discharge.E(discharge.KindRequired, messageHeaderPath+".eventCoding", "The MessageHeader has no event.")
	case sys != BaRSEventSystem:
		return discharge.E(discharge.KindCodeInvalid, messageHeaderPath+".eventCoding.system",
			"The event must be from "+BaRSEventSystem+".")
	case code != BaRSEventReferral:
		return discharge.E(discharge.KindNotSupported, messageHeaderPath+".eventCoding.code",
			"The gateway takes the BaRS event "+BaRSEventReferral+" (a referral), not "+strconv.Quote(code)+".")
	}
	reasons, _ := mh["reason"].(map[string]any)
	codings, _ := reasons["coding"].([]any)
	for k, c := range codings {
		cm, _ := c.(map[string]any)
		if s, _ := cm["system"].(string); s != BaRSReasonSystem {
			continue
		}
		if r, _ := cm["code"].(string); r != BaRSReasonNew {
			return discharge.E(discharge.KindNotSupported, fmt.Sprintf("%s.reason.coding[%d].code", messageHeaderPath, k),
				"The gateway takes new referrals (reason "+BaRSReasonNew+"); a change to a referral is sent as a FHIR update.")
		}
	}
	return nil
}

// focusEntry is the index of the ServiceRequest the MessageHeader focuses.
func focusEntry(mh map[string]any, entries []any, byURL map[string]int) (int, error) {
	focus, _ := mh["focus"].([]any)
	switch len(focus) {
	case 0:
		return 0, discharge.E(discharge.KindRequired, messageHeaderPath+".focus",
			"A referral message focuses its ServiceRequest.")
	case 1:
	default:
		return 0, discharge.E(discharge.KindNotSupported, messageHeaderPath+".focus[1]",
			"A referral message focuses one ServiceRequest.")
	}
	fm, _ := focus[0].(map[string]any)
	ref, _ := fm["reference"].(string)
	at := messageHeaderPath + ".focus[0].reference"
	i, ok := byURL[ref]
	if !ok || ref == "" {
		return 0, unresolved(at, "The focus names no entry of the message (by its fullUrl).")
	}
	if rt, _ := entryResource(entries[i])["resourceType"].(string); rt != "ServiceRequest" {
		return 0, discharge.E(discharge.KindInvalid, at, "A referral message focuses a ServiceRequest, not "+strconv.Quote(rt)+".")
	}
	return i, nil
}

// unresolved is a reference within the message that names no entry: the
// message is invalid (400), the issue is not-found.
func unresolved(expression, message string) error {
	return &discharge.Error{Kind: discharge.KindInvalid, Op: "bars message",
		Issues: []discharge.Issue{{Kind: discharge.KindNotFound, Expression: expression, Message: message}}}
}

// referredEntry is the index of the entry the ServiceRequest's element
// (subject, encounter) names, which must be a typ in the message.
func referredEntry(entries []any, byURL map[string]int, sr int, element, typ string) (int, error) {
	at := entryPath(sr) + "." + element
	ref, ok := ElementReference(entryResource(entries[sr]), element)
	if !ok {
		return 0, discharge.E(discharge.KindRequired, at,
			"A referral names its "+typ+", and the message carries it.")
	}
	i, ok := byURL[ref]
	if !ok {
		return 0, unresolved(at+".reference", "The "+typ+" must be in the message, named by its fullUrl.")
	}
	if rt, _ := entryResource(entries[i])["resourceType"].(string); rt != typ {
		return 0, discharge.E(discharge.KindInvalid, at+".reference", "The reference must name a "+typ+".")
	}
	return i, nil
}

// localReferences handles references from a resource the record keeps to
// the other entries of the message. One to a kept entry stays (the
// transaction rewrites it to the stored id). One to an entry the record
// does not keep (a Practitioner, a HealthcareService, a CarePlan) becomes
// a logical reference: its type and the target's first identifier, so no
// stored reference names a fullUrl that exists nowhere. A urn: reference
// to no entry at all is refused.
func localReferences(v any, path string, entries []any, byURL map[string]int, keep map[string]bool, issues *discharge.Issues) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["reference"].(string); ok && strings.HasPrefix(ref, "urn:") && !keep[ref] {
			i, found := byURL[ref]
			if !found {
				issues.Add(discharge.KindNotFound, path+".reference", "The reference names no entry of the message.")
				return
			}
			target := entryResource(entries[i])
			delete(x, "reference")
			if rt, _ := target["resourceType"].(string); rt != "" {
				x["type"] = rt
			}
			if ids, _ := target["identifier"].([]any); len(ids) > 0 {
				x["identifier"] = ids[0]
			} else if _, ok := x["display"]; !ok {
				x["display"] = fmt.Sprintf("%v (in the referral message; not kept by the gateway)", target["resourceType"])
			}
		}
		for k, e := range x {
			if k == "contained" {
				continue
			}
			localReferences(e, path+"."+k, entries, byURL, keep, issues)
		}
	case []any:
		for i, e := range x {
			localReferences(e, fmt.Sprintf("%s[%d]", path, i), entries, byURL, keep, issues)
		}
	}
}

// identifierCondition is the conditional create's query for a resource: its
// NHS number for a Patient, else its first identifier with a system and a
// value; "" when it has none.
func identifierCondition(res map[string]any) string {
	ids, _ := res["identifier"].([]any)
	pick := ""
	for _, id := range ids {
		im, _ := id.(map[string]any)
		sys, _ := im["system"].(string)
		val, _ := im["value"].(string)
		if sys == "" || val == "" || strings.ContainsAny(sys+val, "|,$\\") {
			continue
		}
		if sys == NHSNumberSystem {
			return url.Values{"identifier": {sys + "|" + val}}.Encode()
		}
		if pick == "" {
			pick = url.Values{"identifier": {sys + "|" + val}}.Encode()
		}
	}
	return pick
}

// readHeader reads the message's header leniently: doc may be invalid.
func readHeader(doc map[string]any) BaRSHeader {
	var h BaRSHeader
	if doc == nil || fhir.BundleType(doc) != "message" {
		return h
	}
	entries, _ := doc["entry"].([]any)
	if len(entries) == 0 {
		return h
	}
	mh := entryResource(entries[0])
	if rt, _ := mh["resourceType"].(string); rt != "MessageHeader" {
		return h
	}
	h.ID, _ = mh["id"].(string)
	if u := entryFullURL(entries[0]); h.ID == "" && strings.HasPrefix(u, "urn:uuid:") && fhir.IsUUID(u[len("urn:uuid:"):]) {
		h.ID = u[len("urn:uuid:"):]
	}
	if !fhirIDSyntax(h.ID) {
		h.ID = ""
	}
	ec, _ := mh["eventCoding"].(map[string]any)
	h.EventSystem, _ = ec["system"].(string)
	h.EventCode, _ = ec["code"].(string)
	src, _ := mh["source"].(map[string]any)
	h.Source, _ = src["endpoint"].(string)
	dests, _ := mh["destination"].([]any)
	for _, d := range dests {
		dm, _ := d.(map[string]any)
		if ep, _ := dm["endpoint"].(string); ep != "" {
			h.Destinations = append(h.Destinations, ep)
		}
	}
	return h
}

// fhirIDSyntax is FHIR's id type: [A-Za-z0-9\-\.]{1,64}.
func fhirIDSyntax(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func entryMap(e any) map[string]any {
	m, _ := e.(map[string]any)
	return m
}

func entryResource(e any) map[string]any {
	r, _ := entryMap(e)["resource"].(map[string]any)
	return r
}

func entryFullURL(e any) string {
	u, _ := entryMap(e)["fullUrl"].(string)
	return u
}

func entryPath(i int) string { return fmt.Sprintf("Bundle.entry[%d].resource", i) }

// BaRSTarget reads the NHSD-Target-Identifier header: base64 of the JSON
// of an Identifier ({"system": ..., "value": ...}) naming the service the
// message is for. It returns the identifier as a destination endpoint is
// written in BaRS ("system|value").
func BaRSTarget(header string) (string, error) {
	bad := discharge.E(discharge.KindValue, messageHeaderPath+".destination",
		"NHSD-Target-Identifier must be base64-encoded JSON of an Identifier with a system and a value.")
	// BaRS senders use the standard alphabet; be lenient about padding
	// and the URL-safe alphabet, which some HTTP stacks produce.
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(strings.TrimSpace(header)); err == nil {
			break
		}
	}
	if err != nil {
		return "", bad
	}
	var id struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}
	if json.Unmarshal(raw, &id) != nil || id.System == "" || id.Value == "" {
		return "", bad
	}
	return id.System + "|" + id.Value, nil
}

// BaRSReply is a response message to a BaRS message.
type BaRSReply struct {
	// ID is the response's MessageHeader id; BundleID the Bundle's.
	ID, BundleID, OutcomeID string
	Time                    time.Time
	Request                 BaRSHeader
	// Code is ok, transient-error or fatal-error (MessageHeader.response.code).
	Code string
	// Source is this gateway's $process-message endpoint.
	Source string
	// Outcome is the OperationOutcome of the details: what was stored, or
	// why the message was refused.
	Outcome []byte
}

// Response codes of MessageHeader.response.code.
const (
	ResponseOK             = "ok"
	ResponseTransientError = "transient-error"
	ResponseFatalError     = "fatal-error"
)

// BaRSResponse renders a response message: a Bundle of type message whose
// MessageHeader answers the request (response.identifier is the request's
// MessageHeader id, the event is the request's, as FHIR messaging has it)
// and whose second entry is the OperationOutcome of the details.
func BaRSResponse(r BaRSReply) []byte {
	type coding struct {
		System string `json:"system,omitempty"`
		Code   string `json:"code"`
	}
	type endpoint struct {
		Endpoint string `json:"endpoint"`
	}
	type ref struct {
		Reference string `json:"reference"`
	}
	type header struct {
		ResourceType string     `json:"resourceType"`
		ID           string     `json:"id"`
		EventCoding  coding     `json:"eventCoding"`
		Destination  []endpoint `json:"destination,omitempty"`
		Source       endpoint   `json:"source"`
		Response     struct {
			Identifier string `json:"identifier"`
			Code       string `json:"code"`
			Details    ref    `json:"details"`
		} `json:"response"`
	}
	h := header{ResourceType: "MessageHeader", ID: r.ID,
		EventCoding: coding{System: r.Request.EventSystem, Code: r.Request.EventCode}, Source: endpoint{r.Source}}
	if h.EventCoding.Code == "" {
		h.EventCoding = coding{System: BaRSEventSystem, Code: BaRSEventReferral}
	}
	if r.Request.Source != "" {
		h.Destination = []endpoint{{r.Request.Source}}
	}
	h.Response.Identifier, h.Response.Code = r.Request.ID, r.Code
	h.Response.Details.Reference = "urn:uuid:" + r.OutcomeID
	mh, _ := json.Marshal(h)
	type entry struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	}
	out, _ := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Timestamp    string  `json:"timestamp"`
		Entry        []entry `json:"entry"`
	}{"Bundle", r.BundleID, "message", r.Time.UTC().Format(time.RFC3339Nano), []entry{
		{"urn:uuid:" + r.ID, mh}, {"urn:uuid:" + r.OutcomeID, r.Outcome}}})
	return out
}
