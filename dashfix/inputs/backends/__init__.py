"""Sources for DashFlow's database checkpointers, one module per backend, each imported only
when a store of its kind is read (``dashfix.inputs.sources``)."""
