;;; gerbil-lsp with Emacs eglot (Emacs 29+, or elpa-eglot). Add to your init file.
(require 'eglot)
(add-to-list 'auto-mode-alist '("\\.ss\\'" . scheme-mode))
(add-to-list 'eglot-server-programs
             '((scheme-mode gerbil-mode) . ("gerbil-lsp" "serve")))
;; Settings go to the server as initializationOptions, e.g.:
;; (setq-default eglot-workspace-configuration
;;               '(:gerbil-lsp (:model (:backend "ollama" :model "gerbil-qwen"))))
(add-hook 'scheme-mode-hook #'eglot-ensure)
