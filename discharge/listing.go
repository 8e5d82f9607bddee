package discharge

// Listing is one care location as a directory import lists it: a CQC
// registered location of a provider, the care settings it offers and the
// needs it specialises in.
type Listing struct {
	Row         int // the listing's row in its source file, for reports
	Name        string
	LocationID  string // CQC location id, e.g. 1-466088203
	ProviderID  string // CQC provider id, e.g. 1-101000001
	Services    []CareSetting
	Specialisms []Requirement
	Fundings    []Funding // funding streams accepted
	Address     string
	Postcode    string
	Position    *Position
	Beds        int    // registered beds
	Contract    string // block or spot; empty when not known
	Rating      string // CQC rating; empty when not known
	Telephone   string // the location's public telephone number; empty when not known
	Website     string // the location's public website URL; empty when not known
}

// RowIssue is why one row of a bulk file was rejected. It is never encoded
// as is: the API writes it as gateway's wireRowIssue, the import command as
// cmd/gateway's rowIssue.
type RowIssue struct {
	Row    int // 1-based, the header being row 1
	Column string
	Reason string
}

// BulkPosting is one location's capacity from a bulk file, with the rows it
// came from so a rejection can name them.
type BulkPosting struct {
	Capacity Capacity
	Rows     []int
}
