package wiring

import (
	"context"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/subscription"
)

// SubscriptionSettings configure Subscriptions (cmd/gateway's
// SUBSCRIPTION_* settings); zero values are subscription's defaults.
type SubscriptionSettings struct {
	// AllowHosts may be reached over plain http and at non-public
	// addresses (local testing).
	AllowHosts  []string
	Timeout     time.Duration
	MaxFailures int
	PerEndpoint int
	// BaseURL is the FHIR base notifications name (GATEWAY_BASE_URL).
	BaseURL string
	// SecretKey seals the signing secrets at rest (nil: in clear).
	SecretKey []byte
}

// taskReader serves full-resource payloads through the referral
// service's read rules.
type taskReader struct{ r *referral.Service }

func (t taskReader) ReadTaskVersion(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error) {
	return t.r.VRead(ctx, p, id, vid)
}

// Subscriptions are the Subscription service on the record and its
// Deliverer (started by `gateway serve`); referrals (nil: none) serves
// full-resource Task payloads, the record the other topics'. stop releases the Deliverer's LISTEN
// connection once Run has returned.
func (s *Stores) Subscriptions(set SubscriptionSettings, referrals *referral.Service, log *slog.Logger) (svc *subscription.Service, d *subscription.Deliverer, stop func()) {
	rec := sqlstore.NewSubscriptions(s.Record)
	policy := subscription.EndpointPolicy{AllowHosts: set.AllowHosts}
	var read subscription.Reader
	if referrals != nil {
		read = taskReader{referrals}
	}
	if set.SecretKey == nil {
		log.Warn("SUBSCRIPTION_SECRET_KEY is not set: Subscription signing secrets are stored in clear in the record")
	}
	svc = subscription.New(rec, subscription.Config{Endpoints: policy, SecretKey: set.SecretKey})
	// The case and capacity topics' full-resource foci are read with the
	// record's read rules (records.Service.Read), as GET would.
	recs := records.New(records.Config{BaseURL: set.BaseURL}, records.Deps{Store: s.Record, Logger: log})
	d = subscription.NewDeliverer(rec, read, subscription.DelivererConfig{Endpoints: policy, BaseURL: set.BaseURL,
		Timeout: set.Timeout, MaxFailures: set.MaxFailures, PerEndpoint: set.PerEndpoint, Log: log, Records: recs,
		SecretKey: set.SecretKey})
	return svc, d, rec.Close
}
