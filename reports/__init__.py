"""Reports for analysts and data-protection officers: analysis, validation, privacy,
data protection, and the check of a published table against the warehouse."""
