;;; Drives gerbil-lsp through Emacs eglot in batch mode: diagnostics, hover, completion, workspace symbols,
;;; and formatting another file of the folder.
;;; Usage: emacs --batch -l eglot_client.el FILE.ss ; writes $RESULT_JSON.
(require 'package)
(package-initialize)  ; Debian's elpa-eglot is a package under site-lisp/elpa
(require 'eglot)
(require 'json)
(load (expand-file-name "../../../plugin/editors/eglot.el" (file-name-directory load-file-name)))
(setq eglot-server-programs
      `((scheme-mode . (,(getenv "GERBIL_LSP_PYTHON") "-m" "gerbil_lsp" "serve"
                        :initializationOptions (:diagnostics (:debounce_ms 0))))))
(setq eglot-sync-connect 30)
(find-file (car command-line-args-left))
(setq command-line-args-left nil)
(scheme-mode)
(apply #'eglot (eglot--guess-contact))  ; eglot-ensure waits for the command loop, which batch mode lacks
(let ((deadline (+ (float-time) 30)))
  (while (and (not (eglot-current-server)) (< (float-time) deadline)) (accept-process-output nil 0.1)))
(let* ((server (eglot-current-server))
       (diags nil)
       (deadline (+ (float-time) 30)))
  (while (and (null diags) (< (float-time) deadline))
    (accept-process-output nil 0.1)
    (setq diags (flymake-diagnostics)))
  (let* ((hover (jsonrpc-request server :textDocument/hover
                                 `(:textDocument (:uri ,(eglot--path-to-uri (buffer-file-name)))
                                   :position (:line 1 :character 4))))
         (completion (jsonrpc-request server :textDocument/completion
                                      `(:textDocument (:uri ,(eglot--path-to-uri (buffer-file-name)))
                                        :position (:line 2 :character 6))))
         (items (if (vectorp completion) completion (plist-get completion :items)))
         ;; the workspace's other module, found by the server's scan of the folder
         (symbols (let ((found nil) (deadline (+ (float-time) 10)))
                    (while (and (= (length found) 0) (< (float-time) deadline))
                      (setq found (jsonrpc-request server :workspace/symbol '(:query "frobn")))
                      (when (= (length found) 0) (accept-process-output nil 0.2)))
                    found))
         ;; the folder's badly indented messy.ss: eglot manages it once visited, and formats it
         (formatted (with-current-buffer (find-file-noselect (expand-file-name "messy.ss"))
                      (setq-local indent-tabs-mode nil)  ; as plugin/editors/eglot.el sets for Gerbil files
                      (unless (eglot-managed-p) (eglot--maybe-activate-editing-mode))
                      (eglot-format-buffer)
                      (buffer-substring-no-properties (point-min) (point-max)))))
    (with-temp-file (getenv "RESULT_JSON")
      (insert (json-encode
               `((diagnostics . ,(vconcat (mapcar #'flymake-diagnostic-text diags)))
                 (hover . ,(plist-get (plist-get hover :contents) :value))
                 (completion . ,(vconcat (mapcar (lambda (i) (plist-get i :label)) items)))
                 (workspace_symbols . ,(vconcat (mapcar (lambda (s) (plist-get s :name)) symbols)))
                 (formatted . ,formatted)))))))
(kill-emacs 0)
