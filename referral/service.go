package referral

// This file is the contract between the gateway's Task handlers and the
// referral service: the methods' signatures are fixed; their bodies are
// being built (each returns KindNotSupported until it is).

import (
	"context"
	"net/url"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Service runs the referral loop: offers as Tasks, holds, confirmation,
// expiry and the case's events.
type Service struct{}

// Result is a Task as stored after an interaction.
type Result struct {
	// Status is 201 for a Task created, 200 otherwise.
	Status   int
	Resource fhir.Resource
	// Warnings are remarks on the answer (a hold standing above a
	// posting's vacancies, say).
	Warnings discharge.Issues
}

// Searchset is one page of Tasks the caller may see.
type Searchset struct {
	Total   int
	Links   []fhir.Link
	Entries []fhir.BundleEntryOut
}

func notYet(op string) error {
	return discharge.E(discharge.KindNotSupported, "", op+" is not built yet.")
}

// Send creates one offer from a FHIR Task (POST /fhir/Task): the trust, or
// a hub for a member trust, offers its ServiceRequest to one provider.
func (s *Service) Send(ctx context.Context, p *auth.Principal, body []byte) (Result, error) {
	return Result{}, notYet("Send")
}

// SendAll creates several offers in one transaction (a transaction Bundle
// of Task creates); all or none. The results are in the Bundle's order.
func (s *Service) SendAll(ctx context.Context, p *auth.Principal, bodies [][]byte) ([]Result, error) {
	return nil, notYet("SendAll")
}

// Update answers or withdraws an offer (PUT /fhir/Task/{id} with
// If-Match): the owner marks it received, accepted (with a hold) or
// rejected; the requester cancels it.
func (s *Service) Update(ctx context.Context, p *auth.Principal, id string, body []byte, ifMatch string) (Result, error) {
	return Result{}, notYet("Update")
}

// Confirm is the requester's confirmation of one accepted offer (POST
// /fhir/Task/{id}/$confirm): its hold becomes the admission and the case's
// other open offers are cancelled.
func (s *Service) Confirm(ctx context.Context, p *auth.Principal, id string) (Result, error) {
	return Result{}, notYet("Confirm")
}

// Read returns the current version of a Task the caller may see.
func (s *Service) Read(ctx context.Context, p *auth.Principal, id string) (fhir.Resource, error) {
	return fhir.Resource{}, notYet("Read")
}

// VRead returns one version of a Task the caller may see.
func (s *Service) VRead(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error) {
	return fhir.Resource{}, notYet("VRead")
}

// History is a history Bundle of a Task's versions, newest first.
func (s *Service) History(ctx context.Context, p *auth.Principal, id string, vals url.Values, base string) ([]byte, error) {
	return nil, notYet("History")
}

// Search finds the Tasks the caller may see (owner, status, focus,
// patient, _lastUpdated, _count, _offset), with every match counted.
func (s *Service) Search(ctx context.Context, p *auth.Principal, vals url.Values, strict bool, base string) (Searchset, error) {
	return Searchset{}, notYet("Search")
}

// Pack is the referral pack of a Task (GET /fhir/Task/{id}/$referral-pack):
// a FHIR Bundle of what the provider needs to decide, minimised until it
// has accepted. Every read is audited.
func (s *Service) Pack(ctx context.Context, p *auth.Principal, id, base string) ([]byte, error) {
	return nil, notYet("Pack")
}
