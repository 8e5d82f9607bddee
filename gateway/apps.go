package gateway

import (
	"net/http"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/sitrep"
)

// Apps are the application services the gateway built, for the dashboard
// (web/), which serves people from the same process over the same
// services, so a page and an API call see the same data under the same
// rules. Referrals is nil when the gateway runs without the referral loop.
type Apps struct {
	Cases     *cases.Service
	Referrals *referral.Service
	Placement *placement.Service
	Capacity  *capacity.Service
	// Sitrep is nil when the record keeps no sitrep counters.
	Sitrep *sitrep.Service
	// VirtualWards is nil when the record keeps no virtual-ward figures.
	VirtualWards *sitrep.VirtualWards
	// Forecast is nil when the record keeps no forecast counters.
	Forecast *sitrep.Forecast
}

// Apps returns the gateway's application services.
func (s *Server) Apps() Apps {
	return Apps{Cases: s.cases, Referrals: s.referrals, Placement: s.placement, Capacity: s.capacities, Sitrep: s.sitrep, VirtualWards: s.virtualWards, Forecast: s.forecast}
}

// StatusOf is the HTTP status of any error, by the one Kind → status
// table (kindTable), for the dashboard's error pages.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return statusOf(toError(err).Kind)
}
