package discharge

// Concept is one code of a gateway code system with the words that explain
// it. The gateway publishes each list as a FHIR CodeSystem.
type Concept struct {
	Code       string
	Display    string
	Definition string
}

// CareSetting is the kind of post-discharge care a need asks for. The codes
// follow the bed and service types of Capacity Tracker reporting, so a need
// can be matched against posted capacity without a further map.
type CareSetting string

// The care settings.
const (
	CareHomeCare            CareSetting = "home-care"
	CareReablement          CareSetting = "reablement"
	CareResidential         CareSetting = "residential"
	CareResidentialDementia CareSetting = "residential-dementia"
	CareNursing             CareSetting = "nursing"
	CareNursingDementia     CareSetting = "nursing-dementia"
	CareD2ABed              CareSetting = "d2a-bed"
	CareIntermediateBed     CareSetting = "intermediate-care-bed"
	CareHospice             CareSetting = "hospice"
	CareVirtualWard         CareSetting = "virtual-ward"
)

var careSettings = []Concept{
	{string(CareHomeCare), "Home care", "Domiciliary care visits in the person's own home, counted in hours per week (pathway 1)."},
	{string(CareReablement), "Reablement", "Time-limited support at home, usually up to six weeks, to regain independence after a hospital stay (pathway 1)."},
	{string(CareResidential), "Residential care home", "A long-term place in a care home providing personal care without on-site nursing (pathway 3)."},
	{string(CareResidentialDementia), "Residential care home (dementia)", "A long-term residential place in a care home registered and staffed to care for people living with dementia (pathway 3)."},
	{string(CareNursing), "Nursing home", "A long-term place in a care home with registered nurses on site at all times (pathway 3)."},
	{string(CareNursingDementia), "Nursing home (dementia)", "A long-term nursing place in a care home registered and staffed to care for people living with dementia (pathway 3)."},
	{string(CareD2ABed), "Discharge to assess bed", "A short-term bed, often block-contracted, where longer-term needs are assessed after discharge (pathway 2)."},
	{string(CareIntermediateBed), "Intermediate care bed", "A short-term 24-hour bed-based recovery or rehabilitation place, such as step-down care (pathway 2)."},
	{string(CareHospice), "Hospice", "A hospice bed for specialist palliative or end-of-life care."},
	{string(CareVirtualWard), "Virtual ward", "Hospital-level care and monitoring at home under a virtual ward or hospital-at-home team."},
}

// CareSettings returns the care settings in a stable order.
func CareSettings() []Concept { return clone(careSettings) }

// Valid reports whether s is a known care setting.
func (s CareSetting) Valid() bool { return has(careSettings, string(s)) }

// Requirement is a specific need a provider must be able to meet.
type Requirement string

// The requirements.
const (
	ReqDementia                Requirement = "dementia"
	ReqBariatric               Requirement = "bariatric"
	ReqTwoCarers               Requirement = "two-carers"
	ReqHoist                   Requirement = "hoist"
	ReqOxygen                  Requirement = "oxygen"
	ReqPEGFeeding              Requirement = "peg-feeding"
	ReqMentalHealth            Requirement = "mental-health"
	ReqLearningDisability      Requirement = "learning-disability"
	ReqEndOfLife               Requirement = "end-of-life"
	ReqBehaviourThatChallenges Requirement = "behaviour-that-challenges"
)

var requirements = []Concept{
	{string(ReqDementia), "Dementia care", "The person lives with dementia and needs staff trained in dementia care."},
	{string(ReqBariatric), "Bariatric care", "The person needs bariatric equipment (bed, chair, hoist) rated for a high body weight."},
	{string(ReqTwoCarers), "Two carers", "Personal care or transfers need two carers at once (double-handed care)."},
	{string(ReqHoist), "Hoist", "Transfers need a mechanical hoist and staff trained to use it."},
	{string(ReqOxygen), "Oxygen therapy", "The person uses supplementary oxygen that the provider must support."},
	{string(ReqPEGFeeding), "PEG feeding", "The person is fed through a gastrostomy (PEG) or other enteral tube."},
	{string(ReqMentalHealth), "Mental health needs", "The person has mental health needs that the provider must be registered and able to meet."},
	{string(ReqLearningDisability), "Learning disability", "The person has a learning disability that the provider must be registered and able to support."},
	{string(ReqEndOfLife), "End of life care", "The person is expected to be in the last weeks or days of life."},
	{string(ReqBehaviourThatChallenges), "Behaviour that challenges", "The person's behaviour may put themselves or others at risk and needs a positive behaviour support approach."},
}

// Requirements returns the requirements in a stable order.
func Requirements() []Concept { return clone(requirements) }

// Valid reports whether r is a known requirement.
func (r Requirement) Valid() bool { return has(requirements, string(r)) }

// Funding is who pays for the care.
type Funding string

// The funding streams.
const (
	FundLocalAuthority Funding = "local-authority"
	FundCHC            Funding = "chc"
	FundNHSD2A         Funding = "nhs-d2a"
	FundSelf           Funding = "self-funded"
)

var fundings = []Concept{
	{string(FundLocalAuthority), "Local authority", "Arranged and paid, wholly or in part, by the local authority under the Care Act 2014."},
	{string(FundCHC), "NHS Continuing Healthcare", "Fully funded by the NHS because the person has a primary health need (including CHC fast track)."},
	{string(FundNHSD2A), "NHS discharge to assess", "Funded by the NHS for a time-limited discharge-to-assess period."},
	{string(FundSelf), "Self-funded", "Paid for by the person or their family."},
}

// Fundings returns the funding streams in a stable order.
func Fundings() []Concept { return clone(fundings) }

// Valid reports whether f is a known funding stream.
func (f Funding) Valid() bool { return has(fundings, string(f)) }

// Pathway is a discharge pathway of the Hospital Discharge Service, 0 to 3.
type Pathway int

var pathways = []Concept{
	{"0", "Pathway 0", "Simple discharge home with no new or additional support."},
	{"1", "Pathway 1", "Home, with new or restarted support: reablement, domiciliary care or rehabilitation at home."},
	{"2", "Pathway 2", "Short-term 24-hour bed-based recovery or rehabilitation: intermediate care, step-down or a discharge-to-assess bed."},
	{"3", "Pathway 3", "A care home for the first time, for people with complex needs (residential or nursing)."},
}

// Pathways returns the pathways 0 to 3 in order.
func Pathways() []Concept { return clone(pathways) }

// Valid reports whether p is 0 to 3.
func (p Pathway) Valid() bool { return p >= 0 && p <= 3 }

// DischargeDestination is an England discharge destination code (NHS Data
// Dictionary, UK Core DischargeDestinationEngland). Codes outside the list
// below are kept as sent: the national list is longer and changes.
type DischargeDestination string

// The discharge destinations that matter to placement.
const (
	DestUsualResidence     DischargeDestination = "19"
	DestTemporaryResidence DischargeDestination = "29"
	DestNHSCareHome        DischargeDestination = "54"
	DestLAResidential      DischargeDestination = "65"
	DestNonNHSCareHome     DischargeDestination = "85"
	DestNonNHSHospice      DischargeDestination = "88"
	DestNotApplicable      DischargeDestination = "98"
)

var destinations = []Concept{
	{string(DestUsualResidence), "Usual place of residence", "The person's usual home, including wardened accommodation and people of no fixed abode."},
	{string(DestTemporaryResidence), "Temporary place of residence", "A temporary home when usually resident elsewhere, such as a hotel or a relative's house."},
	{string(DestNHSCareHome), "NHS run care home", "A care home run by the NHS."},
	{string(DestLAResidential), "Local authority residential accommodation", "Local authority residential accommodation where care is provided."},
	{string(DestNonNHSCareHome), "Non-NHS run care home", "A care home run by neither the NHS nor a local authority."},
	{string(DestNonNHSHospice), "Non-NHS run hospice", "A hospice run by neither the NHS nor a local authority."},
	{string(DestNotApplicable), "Not applicable", "The hospital stay has not finished: the person is still in hospital."},
}

// DischargeDestinations returns the destinations in a stable order.
func DischargeDestinations() []Concept { return clone(destinations) }

// Known reports whether d is one of DischargeDestinations.
func (d DischargeDestination) Known() bool { return has(destinations, string(d)) }

// IsCareHome reports whether d is a care home of any kind.
func (d DischargeDestination) IsCareHome() bool {
	return d == DestNHSCareHome || d == DestLAResidential || d == DestNonNHSCareHome
}

// Priority is the urgency of a care need, as FHIR's request-priority.
type Priority string

// The priorities, least urgent first.
const (
	PriorityRoutine Priority = "routine"
	PriorityUrgent  Priority = "urgent"
	PriorityASAP    Priority = "asap"
	PriorityStat    Priority = "stat"
)

func has(list []Concept, code string) bool {
	for _, c := range list {
		if c.Code == code {
			return true
		}
	}
	return false
}

func clone(list []Concept) []Concept { return append([]Concept(nil), list...) }
