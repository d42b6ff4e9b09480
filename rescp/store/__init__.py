"""Where rescp's state lives: one interface (`base.Store`), one module per backend."""
