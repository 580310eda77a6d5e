;;; gerbil-lsp with Emacs eglot (Emacs 29+, or elpa-eglot). Add to your init file.
(require 'eglot)
(add-to-list 'auto-mode-alist '("\\.ss\\'" . scheme-mode))
(add-to-list 'eglot-server-programs
             '((scheme-mode gerbil-mode) . ("gerbil-lsp" "serve")))
;; Settings go to the server as initializationOptions, e.g.:
;; (setq-default eglot-workspace-configuration
;;               '(:gerbil-lsp (:model (:backend "ollama" :model "gerbil-qwen"))))
(add-hook 'scheme-mode-hook #'eglot-ensure)
;; Lisp indentation aligns on columns, not tab stops: M-x eglot-format-buffer (or a region)
;; then gives the server's indentation, in spaces (it changes nothing else).
(add-hook 'scheme-mode-hook (lambda () (setq-local indent-tabs-mode nil)))
