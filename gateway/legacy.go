package gateway

import (
	"context"
	"encoding/json"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// This file adapts the handlers that other changes are moving out of the
// gateway (placement, capacity, the directory and its import, the case
// view) to the record service, so they keep working until they go. Delete
// each helper when nothing uses it.

// maxRetries bounds the optimistic-concurrency retry loops of the
// directory import.
const maxRetries = 8

// directoryPartition holds the provider directory (fhir.DirectoryPartition).
const directoryPartition = fhir.DirectoryPartition

// local holds the resources of one transaction by their final reference
// (records.DirectoryWrite.Pending).
type local = map[string]map[string]any

func decodeDoc(raw []byte) (map[string]any, error) { return fhir.DecodeDoc(raw) }

func encodeDoc(doc map[string]any) ([]byte, error) { return fhir.EncodeDoc(doc) }

func refString(v any) (string, bool) { return mappings.ReferenceValue(v) }

func splitRef(ref string) (typ, id string, ok bool) { return records.SplitRef(ref) }

func rebaseIssues(issues []discharge.Issue, typ, path string) discharge.Issues {
	return records.RebaseIssues(issues, typ, path)
}

func rebaseError(err error, typ, path string) error { return records.RebaseError(err, typ, path) }

func atExpression(err error, expression string) error { return records.AtExpression(err, expression) }

// notFoundAt: records.Service.Read already names the type in a not-found.
func notFoundAt(err error, _ string) error { return err }

func locationDistance(km float64) json.RawMessage { return fhir.LocationDistance(km) }

// readAcross reads typ/id from the first organisation the caller may read
// that holds it (records.Service.Read).
func (s *Server) readAcross(c echo.Context, typ, id string) (fhir.Resource, string, error) {
	return s.records.Read(c.Request().Context(), principal(c), typ, id)
}

func (s *Server) mapOptions(part string) mappings.Options { return s.records.MapOptions(part) }

func (s *Server) subjectPatient(ctx context.Context, part string, doc map[string]any, _ local) ([]byte, error) {
	return s.records.SubjectPatient(ctx, part, doc)
}

func (s *Server) lookup(ctx context.Context, part, ref string, loc local) (map[string]any, error) {
	return s.records.Resolve(ctx, part, ref, loc)
}

func (s *Server) lookupIfAny(ctx context.Context, part, ref string, _ local) (map[string]any, error) {
	raw, err := s.records.ReadReference(ctx, part, ref)
	if err != nil || raw == nil {
		return nil, err
	}
	return fhir.DecodeDoc(raw)
}

// indexLocation puts a stored directory Location into the geo index behind
// near (records.Directory.IndexLocation). The index is derived data: a
// failure is logged, and mended by the next write of the Location.
func (s *Server) indexLocation(ctx context.Context, id string, doc map[string]any) {
	if s.capacity == nil {
		return
	}
	if pos, area := s.placeLocation(doc); pos != nil {
		if err := s.capacity.IndexLocation(ctx, id, *pos, area); err != nil {
			s.log.Warn("location geo index not updated", "error", err.Error())
		}
	}
}
