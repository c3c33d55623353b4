"""Decision-list imports: an official's spreadsheet, checked, then published as one batch (DESIGN §4, §7).

``files`` reads an upload into header-mapped rows within fixed ``bounds``
(XLSX in ``workbook``, CSV in ``csv_files``); ``checking`` is the dry run and
stages a pending batch; ``publishing`` publishes a batch through the registry's
write path (all rows or none) and attaches its photos; ``tasks`` runs these as
background jobs; ``template`` is the workbook officials download. The import
uses the registry's write path; the registry's services never import this package.
"""
