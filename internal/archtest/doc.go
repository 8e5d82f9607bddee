// Package archtest holds the import rules between the layers, as a test:
// the domain runs on the standard library, the HTTP layer and the
// application services never reach into the adapters, and only the Redis
// adapter knows Redis (see TestImportRules). Only cmd/ and internal/wiring
// (the one constructor of the stores every command uses) wire adapters in.
// Every echo handler in gateway/ stays thin: at most 60 lines
// (TestHandlersAreThin).
// The HTTP layer and the services do not discover optional capabilities of
// their collaborators by type assertion (TestNoCapabilityDiscovery).
package archtest
