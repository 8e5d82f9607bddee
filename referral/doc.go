// Package referral is the referral loop: offers to providers as FHIR
// Tasks, atomic bed holds, confirmation, expiry and the case's timeline.
//
// # The offer workflow (decisions)
//
// Offers are FHIR Tasks (mappings/task.go has their shape and CodeSystems).
// A Task is a resource of the sending trust's partition, so read, vread,
// _history and If-Match work as for any resource; its version is
// meta.versionId. Beside it the record keeps the offer's queryable row,
// its timer, its hold, the case's events and an outbox row, all written in
// the one transaction that writes the Task's version (Store.Apply).
//
// Who acts: a care provider (auth.RoleCareProvider) is the owner of the
// Tasks whose owner Organization carries its CQC provider id (resolved in
// the directory at Send and kept as the offer's OwnerOrg); the trust, or a
// hub for a member trust, is the requester. A hub's offer is stored in
// the member trust's partition (the ServiceRequest's), with the hub as
// requester. Anyone else is told the Task does not exist (KindNotFound).
// A move the table of legal moves (discharge.CanMove) forbids is
// KindConflict with detail RuleTaskMove at Task.status; an If-Match that is
// not current, or a change that lost a race to another on the same Task,
// is KindPrecondition.
//
// Answers are PUTs of the Task: received; accepted, naming the held
// Location (default: the offered one) and bed type in Task.output;
// rejected with a Task.statusReason code (text required for "other"); the
// requester's cancelled (withdrawn). Confirmation is the requester's
// $confirm (mappings.ConfirmOperation), or equally a PUT of status
// in-progress: in one transaction the Task becomes in-progress, its hold
// is admitted, and every other open offer of the same ServiceRequest is
// cancelled (superseded) with its hold released.
//
// Holds: accepting takes one bed of the bed type at the Location,
// atomically: bookable = the vacancies accepting admissions in the
// Location's latest capacity posting minus its active holds, refused with
// KindConflict (RuleHoldBookable) below one (see adapters/sqlstore.Referral
// for the locking). There are never more holds than the vacancies posted
// when each was taken. A later posting below the active holds leaves them
// standing: a bed promised is not taken back by a count; Bookable (on the
// store) reports held above vacant so that capacity reads can warn.
//
// Timers: Sweep moves unanswered offers past their deadline to failed
// (expired) and accepted offers whose hold passed its expiry to failed
// (hold-lapsed), releasing the bed. Each move is conditional on the Task's
// version, so any number of gateways may sweep at once and each offer is
// moved once; the timers are rows of the record, so restarts and
// failovers lose none. A hold past its expiry still counts until a sweep
// lapses it (Run sweeps every SweepEvery, 30 s by default).
//
// Case closure (CloseCase, called by the record's write path when an
// Encounter is finished or cancelled): open offers are cancelled
// (case-closed) and their holds released, an in-progress offer becomes
// completed (admitted) when the Encounter finished; a second call changes
// nothing.
//
// Events: each Task change appends the case's event in the same
// transaction; an event's State is the case's state after it, computed by
// CaseStateOf from the case's offers. Events carry codes, never free text
// or patient identifiers.
//
// The referral pack (Pack) minimises the Patient (postcode district, age
// band) for the owner until it has accepted, unless IdentityBeforeAccept;
// every pack read is audited.
package referral
