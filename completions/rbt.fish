complete --keep-order --exclusive --command rbt --arguments "(RBT_COMPLETE=fish rbt -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
