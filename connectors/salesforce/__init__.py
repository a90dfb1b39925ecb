"""The Salesforce connector, on simple-salesforce."""
