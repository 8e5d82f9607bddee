package sqlstore

import (
	"context"
	"database/sql"

	"github.com/dischargegateway/gateway/discharge"
)

// InsertOffer writes an offers row as the offer workflow would (its writer
// lives on another branch of the work): the case view only reads them.
func InsertOffer(ctx context.Context, s *Store, o discharge.Offer) error {
	return s.inTx(ctx, "test.InsertOffer", o.Partition, false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO offers (partition, task_id, owner_org, owner, requester, service_request,
			encounter, patient, location, healthcare_service, state, business_status, deadline, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			o.Partition, o.ID, o.OwnerOrg, o.Owner, o.Requester, o.ServiceRequestID, o.EncounterID, o.PatientID, o.LocationID,
			o.HealthcareServiceID, string(o.State), string(o.BusinessStatus), toNanos(o.Deadline), o.Version, toNanos(o.Created), toNanos(o.Updated))
		return err
	})
}
